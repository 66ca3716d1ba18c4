package org.mpsafe.kern;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * {@code struct evcnt} made per CPU: an event counter ({@code vmstat -e}: group and name) that
 * each CPU increments in its own cache line, with no atomics. {@link #value()} sums the CPUs
 * (racy, monotone per CPU).
 */
public final class EvCnt {
  /** 128 bytes between two CPUs' counters: no false sharing, even with adjacent-line prefetch. */
  private static final int STRIDE = 16;
  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

  private final String group;
  private final String name;
  private final long[] counts;

  /** {@code evcnt_attach_dynamic(ev, EVCNT_TYPE_MISC, NULL, group, name)}. */
  public EvCnt(Machine m, String group, String name) {
    this.group = group;
    this.name = name;
    this.counts = new long[(m.ncpu() + 2) * STRIDE];
  }

  /** Counts one event on the current CPU; the caller holds a CPU. */
  public void incr() {
    int i = (Lwp.current().cpu.index() + 1) * STRIDE;
    LONGS.setOpaque(counts, i, (long) LONGS.getOpaque(counts, i) + 1);
  }

  /** Counts {@code n} events on CPU {@code cpu}, which the caller runs on. */
  public void add(Cpu cpu, long n) {
    int i = (cpu.index() + 1) * STRIDE;
    LONGS.setOpaque(counts, i, (long) LONGS.getOpaque(counts, i) + n);
  }

  /** The sum over all CPUs. */
  public long value() {
    long sum = 0;
    for (int i = STRIDE; i < counts.length - STRIDE; i += STRIDE) {
      sum += (long) LONGS.getOpaque(counts, i);
    }
    return sum;
  }

  public String group() {
    return group;
  }

  public String name() {
    return name;
  }

  @Override
  public String toString() {
    return group + " " + name + " = " + value();
  }
}
