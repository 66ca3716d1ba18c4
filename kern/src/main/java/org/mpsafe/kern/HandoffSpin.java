package org.mpsafe.kern;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Spin-then-park for an LWP's host thread waiting to be handed a virtual CPU (its grant, or the
 * wakeup that brings one): it watches the word the waker writes for a short budget before it
 * parks in the OS. A hand-over whose waiter is still watching costs a cache-line transfer
 * instead of an OS wakeup (≈ 10 µs on a VM); a low-priority xcall round's critical path is made
 * of such hand-overs (design §9).
 *
 * <pre>
 * Implementation notes
 *
 * This changes how a waiting host thread waits, never what it waits for or who is granted what:
 * the waiter still leaves only when the scheduler's volatile grant (or woken) is set, which the
 * waker writes under the scheduler lock, so Scheduler's happens-before edge is unchanged; the
 * waker still unparks, so a waiter that gave up and parks always wakes. An unpark that lands on
 * a spinner leaves a permit behind; the next park returns at once and its loop re-checks its
 * condition, as for any spurious wakeup.
 *
 * The spin leaves the host core to whoever needs it: after {@link #PAUSES} rounds of
 * Thread.onSpinWait (a CPU pause, for a grant that is already on its way) each round is a
 * Thread.yield, so a host thread the OS has queued behind the spinner (typically the LWP just
 * granted the other virtual CPU) runs first. At most as many threads spin as the host has
 * cores. The machine has more LWP threads than virtual CPUs (a CPU's xcall thread, its softint
 * threads, a caller), so a spinner that held on to its core would delay the very thread it
 * waits for; pause-only spinning measured 2× slower than parking at once.
 *
 * Budget: {@link #OPTION} nanoseconds per wait (default {@link #DEFAULT_NANOS} on a host with
 * two or more cores, else 0; the system property {@code mpsafe.handoffSpin} overrides the
 * default). 0 turns spinning off. It is always off on the deterministic machine, whose baton
 * decides every hand-over, and the Fray tests set it to 0: Fray runs one thread at a time, so a
 * spinner would only burn its budget, and the spinner count would be one more shared access
 * for Fray to schedule.
 * </pre>
 */
public final class HandoffSpin {
  /** Boot option: the spin budget per wait in nanoseconds, a {@code Long}; 0 = park at once. */
  public static final String OPTION = "kern.handoffSpinNanos";
  /** About five OS hand-overs on this class of host. */
  static final long DEFAULT_NANOS = 50_000;
  /** Pause-only rounds before the spinner starts yielding its host core. */
  static final int PAUSES = 64;
  private static final int HOST_CORES = Runtime.getRuntime().availableProcessors();

  private final Machine machine;
  private final long budgetNanos;
  private final AtomicInteger spinners = new AtomicInteger();

  HandoffSpin(Machine machine, MachineConfig config) {
    this.machine = machine;
    long dflt = Long.getLong("mpsafe.handoffSpin", HOST_CORES >= 2 ? DEFAULT_NANOS : 0);
    long b = config.option(OPTION, dflt);
    if (b < 0) {
      throw new IllegalArgumentException(OPTION + " must be >= 0: " + b);
    }
    this.budgetNanos = machine.det != null ? 0 : b;
  }

  /** Threads spinning now. */
  int spinners() {
    return spinners.get();
  }

  /** How many threads may spin at once: the host's cores. */
  static int slots() {
    return HOST_CORES;
  }

  /** The budget per wait in nanoseconds; 0 when spinning is off. */
  long budgetNanos() {
    return budgetNanos;
  }

  /**
   * Spins until {@code l} is granted a CPU, the budget runs out, the machine stops or every
   * spinning slot is taken; true if the grant came. The caller parks when false.
   */
  boolean awaitGranted(Lwp l) {
    return spin(l, true);
  }

  /** As {@link #awaitGranted}, for {@code l}'s wakeup ({@code woken}). */
  boolean awaitWoken(Lwp l) {
    return spin(l, false);
  }

  private boolean spin(Lwp l, boolean grant) {
    if (budgetNanos == 0) {
      return false;
    }
    int s = spinners.get();
    if (s >= HOST_CORES || !spinners.compareAndSet(s, s + 1)) {
      return false;
    }
    try {
      long deadline = System.nanoTime() + budgetNanos;
      for (int i = 0; ; i++) {
        if (grant ? l.granted != null : l.woken) {
          return true;
        }
        if (i < PAUSES) {
          Thread.onSpinWait();
          continue;
        }
        if (System.nanoTime() - deadline > 0 || !machine.running()) {
          return false;
        }
        Thread.yield();
      }
    } finally {
      spinners.decrementAndGet();
    }
  }
}
