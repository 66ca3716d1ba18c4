package org.mpsafe.kern;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code struct cpu_info}: one virtual CPU of a {@link Machine}.
 *
 * <p>At most one LWP runs on a CPU at any instant ({@link #curlwp()}); the fields below marked
 * "owned by the CPU" are read and written only by that LWP, without atomics, which is safe
 * because every change of owner goes through the scheduler lock (see {@link Scheduler}).
 *
 * <p>The fields its owner writes on every spl change ({@code ipl}, {@code mtxCount},
 * {@code mtxOldspl}) sit on cache lines of their own ({@link CpuLayout}), apart from the fields
 * the scheduler writes on hand-overs ({@code owner}, {@code wantPri}, {@code anyWaiter}), so a
 * hand-over on another CPU never invalidates the line a psref pair writes.
 */
public final class Cpu extends CpuLayout.SharedPad implements KObject {
  /** {@code SPCF_RUNNING}: the CPU takes part in low-priority xcall broadcasts. */
  public static final int SPCF_RUNNING = 0x0004;

  private final long kaddr = Kaddr.alloc();
  private final int index;
  private final String name;
  final Machine machine;

  /** The LWP holding this CPU; written under the scheduler lock. */
  volatile Lwp owner;
  /** {@code spc_flags}; written at boot and by {@link #setSpcFlags}. */
  private volatile int spcFlags = SPCF_RUNNING;

  /**
   * The highest priority of an LWP waiting for this CPU that outranks its owner, or
   * {@link Scheduler#NO_WANT}: the plain read every preemption point makes.
   */
  volatile int wantPri = Scheduler.NO_WANT;
  /** True while any LWP waits for this CPU (yield points hand over to it). */
  volatile boolean anyWaiter;
  /**
   * The thread a softint interrupted here at raised IPL: it resumes here before any other
   * thread (Scheduler invariant S5); under the scheduler lock.
   */
  Lwp pinned;
  /** LWPs bound to this CPU and waiting for it, by priority then arrival; under the lock. */
  final List<Lwp> runq = new ArrayList<>();

  /** The softint LWPs of this CPU, by soft level (index = IPL); set at boot. */
  final Lwp[] softintLwps = new Lwp[Ipl.IPL_SOFTSERIAL + 1];
  /**
   * {@code sh_flags} of every softint slot, per soft level: bit b SOFTINT_PENDING of slot b,
   * bit 32 + b its SOFTINT_ACTIVE; see {@link Softint}.
   */
  final AtomicLongArray softPending =
      new AtomicLongArray(Ipl.IPL_SOFTSERIAL + 1);
  /** {@code sc_hand[]}: this CPU's softint records, by soft level and slot. */
  final Softint.Softhand[][] softhand = new Softint.Softhand[Ipl.IPL_SOFTSERIAL + 1][];

  /** Owned by the CPU: this CPU's trace ring. */
  final Trace.Ring trace;

  Cpu(Machine machine, int index, int traceSize) {
    this.machine = machine;
    this.index = index;
    this.name = "cpu" + index;
    this.trace = new Trace.Ring(index, traceSize);
    for (int level = Ipl.IPL_SOFTCLOCK; level <= Ipl.IPL_SOFTSERIAL; level++) {
      softhand[level] = new Softint.Softhand[Softint.MAX_PER_LEVEL];
      for (int i = 0; i < Softint.MAX_PER_LEVEL; i++) {
        softhand[level][i] = new Softint.Softhand();
      }
    }
  }

  /** {@code cpu_index(ci)}. */
  public int index() {
    return index;
  }

  /** {@code cpu_name(ci)}: {@code cpuN}. */
  public String name() {
    return name;
  }

  public Machine machine() {
    return machine;
  }

  /** {@code ci->ci_curlwp}: the LWP running here, or null when idle. Racy outside the CPU. */
  public Lwp curlwp() {
    return owner;
  }

  /** {@code ci->ci_schedstate.spc_flags}. */
  public int spcFlags() {
    return spcFlags;
  }

  /** Sets {@code spc_flags} (e.g. clears {@link #SPCF_RUNNING} to take the CPU offline). */
  public void setSpcFlags(int flags) {
    this.spcFlags = flags;
  }

  /** Owned by the CPU: the current IPL. Racy when read from another CPU. */
  public int ipl() {
    return ipl;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return name;
  }
}
