package org.mpsafe.kern;

import java.util.function.Supplier;

/**
 * Host threads adopted as LWPs: {@link Machine#run}, {@link Machine#call} and
 * {@link Machine#enter} ({@code rump_schedule} / {@code rump_unschedule}).
 *
 * <pre>
 * Implementation notes
 *
 * The calling thread's LWP is found through a field for a {@link HostThread} (no ThreadLocal
 * lookup on the hot path) and through a ThreadLocal for any other thread. The LWP is unbound
 * (or bound by enter) at PRI_USER, listed in the machine's LWPs while adopted, and holds its
 * CPU from schedule to unschedule. Its state is read here without the scheduler lock only by
 * its own thread, after awaitGrant returned (docs/synchronization.md §1.1).
 * </pre>
 */
final class HostAdoption {
  private HostAdoption() {}

  private static final ThreadLocal<Lwp> ADOPTED = new ThreadLocal<>();

  /** The LWP the calling (non-HostThread) thread is adopted as, or null. */
  static Lwp adopted() {
    return ADOPTED.get();
  }

  static <T> T call(Machine m, String name, Supplier<T> body) {
    Lwp l = schedule(m, name, null);
    try {
      T v = body.get();
      m.kthreadExit(l);
      return v;
    } catch (KernelPanic | MachineStopped e) {
      throw e;
    } catch (RuntimeException | Error e) {
      if (m.running() && l.state == Lwp.State.ONPROC) {
        m.sched.release(l, Lwp.State.ZOMBIE);
      }
      throw e;
    } finally {
      forget(m, l);
    }
  }

  static Lwp enter(Machine m, String name, Cpu bindTo) {
    if (name == null) {
      throw new IllegalArgumentException("enter needs a name");
    }
    if (bindTo != null && bindTo.machine != m) {
      throw new IllegalArgumentException("cpu " + bindTo + " belongs to another machine");
    }
    return schedule(m, name, bindTo);
  }

  /** Gives the entered LWP's CPU back (after lwp_exit's checks) unless the machine stopped. */
  static void exit(Machine m, Lwp l) {
    try {
      if (m.running() && l.state == Lwp.State.ONPROC) {
        m.kthreadExit(l);
      }
    } catch (MachineStopped e) {
      // stopped meanwhile: nothing left to give back
    } finally {
      forget(m, l);
    }
  }

  /** {@code rump_schedule}: the calling thread becomes a new LWP, which takes a CPU. */
  private static Lwp schedule(Machine m, String name, Cpu bindTo) {
    if (Lwp.currentOrNull() != null) {
      throw new IllegalStateException("already on an LWP: " + Lwp.currentOrNull());
    }
    m.checkRunning();
    Lwp l = m.newHostLwp(name, bindTo != null ? Lwp.LP_BOUND : 0, bindTo);
    adopt(l);
    try {
      m.sched.acquire(l);
    } catch (RuntimeException | Error e) {
      forget(m, l);
      throw e;
    }
    return l;
  }

  private static void forget(Machine m, Lwp l) {
    l.state = Lwp.State.ZOMBIE;
    unadopt();
    m.forgetHostLwp(l);
  }

  /** Marks the calling host thread as running {@code l}: a field for a HostThread. */
  private static void adopt(Lwp l) {
    if (Thread.currentThread() instanceof HostThread ht) {
      ht.adopted = l;
    } else {
      ADOPTED.set(l);
    }
  }

  private static void unadopt() {
    if (Thread.currentThread() instanceof HostThread ht) {
      ht.adopted = null;
    } else {
      ADOPTED.remove();
    }
  }
}
