package org.mpsafe.kern;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A fixed-size per-CPU event ring, for the "last events" of a panic report.
 *
 * <p>Kinds are small ints registered once by name ({@link #kind}); each event is four longs
 * (time, kind and LWP, two arguments) written by the CPU's owner into its own ring: no
 * allocation, no atomics. A snapshot taken while CPUs run may show a torn last event; panic
 * reports take it after every CPU stopped.
 */
public final class Trace {
  private Trace() {}

  private static final List<String> KINDS = new CopyOnWriteArrayList<>();

  /** Registers (or finds) an event kind by name. */
  public static synchronized int kind(String name) {
    int i = KINDS.indexOf(name);
    if (i >= 0) {
      return i;
    }
    KINDS.add(name);
    return KINDS.size() - 1;
  }

  public static String kindName(int kind) {
    return kind >= 0 && kind < KINDS.size() ? KINDS.get(kind) : "kind" + kind;
  }

  public static final int SOFTINT = kind("softint");
  public static final int PANIC = kind("panic");

  /** Records an event on the current CPU. */
  public static void record(int kind, long a, long b) {
    Lwp l = Lwp.current();
    l.cpu.trace.add(kind, l.id(), a, b);
  }

  /**
   * One trace event.
   *
   * @param cpu the CPU it happened on
   * @param nanos nanoseconds since boot
   * @param kind the kind's name
   * @param lwp the LWP's id
   * @param a first argument
   * @param b second argument
   */
  public record Event(int cpu, long nanos, String kind, int lwp, long a, long b) {}

  /** The ring of one CPU. */
  static final class Ring {
    private final int cpu;
    private final long[] buf;
    private final int size;
    private long pos;
    private long boot;

    Ring(int cpu, int size) {
      this.cpu = cpu;
      this.size = size;
      this.buf = new long[Math.max(size, 1) * 4];
    }

    void start(long bootNanos) {
      this.boot = bootNanos;
    }

    void add(int kind, int lwp, long a, long b) {
      if (size == 0) {
        return;
      }
      int i = (int) (pos++ % size) * 4;
      buf[i] = System.nanoTime() - boot;
      buf[i + 1] = ((long) kind << 32) | (lwp & 0xffff_ffffL);
      buf[i + 2] = a;
      buf[i + 3] = b;
    }

    List<Event> snapshot() {
      List<Event> out = new ArrayList<>();
      long end = pos;
      for (long p = Math.max(0, end - size); p < end; p++) {
        int i = (int) (p % size) * 4;
        out.add(new Event(cpu, buf[i], kindName((int) (buf[i + 1] >>> 32)),
            (int) buf[i + 1], buf[i + 2], buf[i + 3]));
      }
      return out;
    }
  }
}
