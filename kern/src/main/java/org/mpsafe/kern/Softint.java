package org.mpsafe.kern;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Software interrupts ({@code sys/kern/kern_softint.c}): {@code softint_establish},
 * {@code softint_schedule}, {@code softint_schedule_cpu}.
 *
 * <p>Each CPU has one bound LWP per soft level ({@code softclk/N}, {@code softbio/N},
 * {@code softnet/N}, {@code softser/N}, flags {@code LP_BOUND|LP_INTR}) at softint priority.
 * Scheduling a handler marks it pending on a CPU and makes that CPU's LWP of the level runnable;
 * it takes the CPU at the CPU's next preemption point where the IPL is below the level (at once
 * if the CPU is idle), runs every pending handler of its level at that IPL, and idles again.
 *
 * <pre>
 * Implementation notes
 *
 * Pending handlers are a bit per handle in Cpu.softPending[level] (an AtomicLongArray): set by
 * any CPU (remote scheduling is the high-priority xcall "IPI"), cleared by the softint LWP with
 * getAndSet(0). A schedule that finds its bit already set does nothing more. After setting the
 * bit the scheduler reads the LWP's state; the LWP publishes IDLE before it re-reads the bits
 * (Scheduler.sleepIdle), so either the LWP sees the bit or the scheduler sees IDLE and queues it.
 *
 * Difference from NetBSD: handlers run in LWPs of their own (as in rump and as NetBSD's
 * "slow" softints), never borrowing the interrupted LWP's stack; at most 64 handles per level.
 * At the end of each handler the LWP must hold no psref (l_psrefs == 0, kern_softint.c).
 * </pre>
 */
public final class Softint {
  public static final int SOFTINT_CLOCK = Ipl.IPL_SOFTCLOCK;
  public static final int SOFTINT_BIO = Ipl.IPL_SOFTBIO;
  public static final int SOFTINT_NET = Ipl.IPL_SOFTNET;
  public static final int SOFTINT_SERIAL = Ipl.IPL_SOFTSERIAL;

  private static final String[] LWP_NAMES = {null, "softclk", "softbio", "softnet", "softser"};
  private static final int MAX_PER_LEVEL = 64;

  private final Machine machine;
  private final Handle[][] handles = new Handle[Ipl.IPL_SOFTSERIAL + 1][MAX_PER_LEVEL];
  private final int[] count = new int[Ipl.IPL_SOFTSERIAL + 1];
  /** Counted down by each softint LWP when it first holds its CPU; boot waits for all. */
  private final CountDownLatch started;

  Softint(Machine machine) {
    this.machine = machine;
    this.started = new CountDownLatch(
        machine.ncpu() * (Ipl.IPL_SOFTSERIAL - Ipl.IPL_SOFTCLOCK + 1));
  }

  /**
   * Waits until every softint LWP has started (holds or held its CPU): from then on a
   * softint_schedule either finds its LWP IDLE and queues it, or the LWP, still on its CPU,
   * sees the pending bit before it idles. Before that an LWP in state NEW was skipped by post()
   * and ran the handler only when it first got its CPU, possibly well after a splx() that should
   * have run it. Returns whether they all started, judged by the count itself (not by the
   * timed wait's result, which a controlled scheduler such as Fray may report wrongly).
   */
  boolean awaitStarted(long nanos) throws InterruptedException {
    long deadline = System.nanoTime() + nanos;
    while (started.getCount() > 0 && System.nanoTime() < deadline) {
      started.await(Math.min(10_000_000L, Math.max(1, deadline - System.nanoTime())),
          TimeUnit.NANOSECONDS);
    }
    return started.getCount() == 0;
  }

  /** True once every softint LWP has started (holds or held its CPU). */
  boolean allStarted() {
    return started.getCount() == 0;
  }

  /** A handler established at one soft level: {@code void *sih}. */
  public static final class Handle implements KObject {
    private final long kaddr = Kaddr.alloc();
    final int level;
    final int bit;
    final Runnable fn;
    final String name;

    Handle(int level, int bit, Runnable fn, String name) {
      this.level = level;
      this.bit = bit;
      this.fn = fn;
      this.name = name;
    }

    public int level() {
      return level;
    }

    public String name() {
      return name;
    }

    @Override
    public long kaddr() {
      return kaddr;
    }

    @Override
    public String toString() {
      return "softint " + name;
    }
  }

  /** {@code softint_establish(flags, func, arg)}: {@code level} is a soft IPL. */
  public synchronized Handle establish(int level, Runnable fn, String name) {
    if (!Ipl.isSoft(level)) {
      throw new IllegalArgumentException("softint level must be a soft IPL: " + level);
    }
    if (fn == null) {
      throw new IllegalArgumentException("softint handler must not be null: " + name);
    }
    int n = count[level];
    if (n == MAX_PER_LEVEL) {
      throw new IllegalArgumentException("more than 64 softints at " + Ipl.name(level));
    }
    Handle h = new Handle(level, n, fn, name);
    handles[level][n] = h;
    count[level] = n + 1;
    return h;
  }

  /** {@code softint_schedule(sih)}: pending on the current CPU; runs at the next chance. */
  public void schedule(Handle h) {
    Lwp l = Lwp.current();
    post(h, l.cpu);
    Kern.preemptPoint(l);
  }

  /** {@code softint_schedule_cpu(sih, ci)}: pending on {@code ci}, which may be remote. */
  public void scheduleCpu(Handle h, Cpu ci) {
    post(h, ci);
    Lwp l = Lwp.currentOrNull();
    if (l != null && l.cpu == ci) {
      Kern.preemptPoint(l);
    }
  }

  /**
   * Marks {@code h} pending on {@code c} and wakes {@code c}'s LWP of its level if it idles. Any
   * thread may post: an LWP of any CPU, or a device's host thread. The state is read without the
   * scheduler lock, as a hint: by the time {@link Scheduler#wakeIdle} takes the lock the LWP may
   * have found the bit, run the handler and gone to sleep inside it (on a lock the handler
   * takes); wakeIdle re-reads the state under the lock and wakes only an LWP that still idles,
   * so a stale read costs nothing. A read of a stale non-IDLE state is safe too: the LWP
   * publishes IDLE before it re-reads the bits (under the lock, {@link Scheduler#sleepIdle}).
   */
  private void post(Handle h, Cpu c) {
    long bit = 1L << h.bit;
    if ((c.softPending.get(h.level) & bit) != 0) {
      return;
    }
    long prev = c.softPending.getAndAccumulate(h.level, bit, (a, b) -> a | b);
    if ((prev & bit) != 0) {
      return;
    }
    Lwp sl = c.softintLwps[h.level];
    if (sl.state == Lwp.State.IDLE) {
      Consumer<Lwp> hook = afterIdleRead;
      if (hook != null) {
        hook.accept(sl);
      }
      machine.sched.wakeIdle(sl);
    }
  }

  /**
   * Test hook: called in the posting thread between its unlocked read of the softint LWP's
   * state (IDLE) and {@link Scheduler#wakeIdle}, so a test can hold a poster exactly where a
   * slow host thread would be descheduled. Null (one volatile read) otherwise.
   */
  volatile Consumer<Lwp> afterIdleRead;

  /** Starts the softint LWPs of every CPU; called at boot. */
  void attach(Cpu c) {
    for (int level = Ipl.IPL_SOFTCLOCK; level <= Ipl.IPL_SOFTSERIAL; level++) {
      final int lv = level;
      Lwp l = machine.newLwp(LWP_NAMES[level] + "/" + c.index(), Pri.ofSoftLevel(level),
          Lwp.LP_BOUND | Lwp.LP_INTR, c, () -> loop(c, lv));
      l.softLevel = level;
      c.softintLwps[level] = l;
    }
  }

  /** The softint LWP's body: run what is pending at {@code level} on {@code c}, else idle. */
  private void loop(Cpu c, int level) {
    Lwp l = Lwp.current();
    started.countDown();
    for (;;) {
      long bits = c.softPending.getAndSet(level, 0);
      if (bits == 0) {
        machine.sched.sleepIdle(l, () -> c.softPending.get(level) != 0);
        continue;
      }
      c.ipl = level;
      while (bits != 0) {
        int b = Long.numberOfTrailingZeros(bits);
        bits &= bits - 1;
        Handle h = handles[level][b];
        c.trace.add(Trace.SOFTINT, l.id(), level, b);
        h.fn.run();
        Kassert.kassertMsg(l.psrefs == 0, "l->l_psrefs == 0", "sys/kern/kern_softint.c", 593,
            "%s: l_psrefs=%d, sh_func=%p\n", "softint_execute", l.psrefs, h);
        Kern.preemptPoint(l);
      }
    }
  }
}
