package org.mpsafe.kern;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Software interrupts ({@code sys/kern/kern_softint.c}): {@code softint_establish},
 * {@code softint_disestablish}, {@code softint_schedule}, {@code softint_schedule_cpu}.
 *
 * <p>Each CPU has one bound LWP per soft level ({@code softclk/N}, {@code softbio/N},
 * {@code softnet/N}, {@code softser/N}, flags {@code LP_BOUND|LP_INTR}) at softint priority.
 * Scheduling a handler marks it pending on a CPU and makes that CPU's LWP of the level runnable;
 * it takes the CPU at the CPU's next preemption point where the IPL is below the level (at once
 * if the CPU is idle), runs every pending handler of its level at that IPL, and idles again.
 *
 * <p>{@link #disestablish} waits until the handler runs nowhere, then clears it on every CPU;
 * the caller must not schedule it again and may then free what the handler uses. How it waits
 * is the boot option {@link #OPTION_DISESTABLISH} ({@link Disestablish}): the fixed wait by
 * default; {@link Disestablish#ACTIVE} is kern_softint.c 1.41's, which misses a handler that is
 * pending but not yet running (docs/races/softint-disestablish.md).
 *
 * <pre>
 * Implementation notes
 *
 * sh_flags. Cpu.softPending[level] (an AtomicLongArray) holds, per CPU and soft level, the two
 * flags of every handle of that level: bit b is SOFTINT_PENDING of slot b, bit 32 + b its
 * SOFTINT_ACTIVE. One word per CPU and level, so a reader sees both flags of a slot at once, as
 * it sees NetBSD's one sh_flags word.
 *  F1 PENDING is set by any CPU (post; remote scheduling is the high-priority xcall "IPI") and
 *     cleared only by the CPU's softint LWP of that level. A schedule that finds it set does
 *     nothing more. After setting it the poster reads the LWP's state; the LWP publishes IDLE
 *     before it re-reads the word (Scheduler.sleepIdle), so either the LWP sees the bit or the
 *     poster sees IDLE and queues it.
 *  F2 softint_execute's "sh_flags ^= (SOFTINT_PENDING | SOFTINT_ACTIVE)" is one getAndAdd of
 *     (1 << (32 + b)) - (1 << b): PENDING (known set, F1) goes to ACTIVE in one atomic step.
 *     "sh_flags ^= SOFTINT_ACTIVE" after the handler is one getAndAdd of -(1 << (32 + b)).
 *  F3 At most one slot of a CPU and level is ACTIVE at a time; the others stay PENDING until
 *     their turn. The LWP runs in rounds: it snapshots the PENDING bits and runs those slots in
 *     slot order; a slot posted during a round waits for the next. (NetBSD runs si_q in FIFO
 *     order; the rounds keep a handler that reschedules itself from starving the others.)
 *
 * softhand records. Each CPU has its own record per slot (Cpu.softhand, NetBSD's sc_hand[]):
 * sh_func (volatile: cleared by the disestablishing LWP on every CPU, read by each CPU's
 * softint LWP at dispatch) and the name of the handler in it. A slot is free when its sh_func
 * is null; establish takes the lowest free slot, as NetBSD does.
 *
 * Differences from NetBSD: handlers run in LWPs of their own (as in rump and as NetBSD's
 * "slow" softints), never borrowing the interrupted LWP's stack; at most 32 handles per level;
 * no softint IPIs to unregister. At the end of each handler the LWP must hold no psref
 * (l_psrefs == 0, kern_softint.c). softint_disestablish's cross call is xcall's, reached
 * through a hook that xcall sets when it attaches ({@link #setXcNullop}), because xcall is
 * built on this module. A dispatch that finds sh_func null (NetBSD: a call through NULL, a page
 * fault) panics naming the handler, its argument and the CPU.
 * </pre>
 */
public final class Softint {
  public static final int SOFTINT_CLOCK = Ipl.IPL_SOFTCLOCK;
  public static final int SOFTINT_BIO = Ipl.IPL_SOFTBIO;
  public static final int SOFTINT_NET = Ipl.IPL_SOFTNET;
  public static final int SOFTINT_SERIAL = Ipl.IPL_SOFTSERIAL;

  /**
   * Boot option: {@link Disestablish}, how {@code softint_disestablish} waits; default
   * {@link Disestablish#PENDING}.
   */
  public static final String OPTION_DISESTABLISH = "kern.softint.disestablish";

  /** How {@code softint_disestablish} decides that a handler runs nowhere any more. */
  public enum Disestablish {
    /**
     * {@code kern_softint.c 1.41}: after a low-priority {@code xc_broadcast(0, nullop)} it waits
     * only while a CPU has the handler {@code SOFTINT_ACTIVE}; one still {@code SOFTINT_PENDING}
     * runs after the caller freed its state (the bug).
     */
    ACTIVE,
    /**
     * {@code kern_softint.c 1.38.14.2} (netbsd-7): waits while a CPU has the handler
     * {@code SOFTINT_PENDING} or {@code SOFTINT_ACTIVE} (the fix).
     */
    PENDING
  }

  static final String KERN_SOFTINT_C = "sys/kern/kern_softint.c";
  private static final String[] LWP_NAMES = {null, "softclk", "softbio", "softnet", "softser"};
  static final int MAX_PER_LEVEL = 32;
  private static final int ACTIVE_SHIFT = 32;
  private static final long PENDING_MASK = 0xFFFF_FFFFL;

  private final Machine machine;
  private final Disestablish disestablishWait;
  /** {@code xc_wait(xc_broadcast(0, nullop, NULL, NULL))}, set by xcall at boot. */
  private volatile Runnable xcNullop;
  /** Counted down by each softint LWP when it first holds its CPU; boot waits for all. */
  private final CountDownLatch started;

  Softint(Machine machine) {
    this.machine = machine;
    this.disestablishWait = machine.config().option(OPTION_DISESTABLISH, Disestablish.PENDING);
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
    final String name;
    /** The handler's argument, named in a late dispatch's panic (may be null). */
    final Object arg;

    Handle(int level, int bit, String name, Object arg) {
      this.level = level;
      this.bit = bit;
      this.name = name;
      this.arg = arg;
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
  public Handle establish(int level, Runnable fn, String name) {
    return establish(level, fn, name, null);
  }

  /**
   * {@code softint_establish(flags, func, arg)}: {@code fn} is {@code func} applied to its
   * argument; {@code arg} only names that argument in a panic. Takes the lowest free slot.
   */
  public synchronized Handle establish(int level, Runnable fn, String name, Object arg) {
    if (!Ipl.isSoft(level)) {
      throw new IllegalArgumentException("softint level must be a soft IPL: " + level);
    }
    if (fn == null) {
      throw new IllegalArgumentException("softint handler must not be null: " + name);
    }
    Softhand[] first = machine.cpu(0).softhand[level];
    int n = 0;
    while (n < MAX_PER_LEVEL && first[n].func != null) {
      n++;
    }
    if (n == MAX_PER_LEVEL) {
      throw new IllegalArgumentException("more than " + MAX_PER_LEVEL + " softints at "
          + Ipl.name(level));
    }
    Handle h = new Handle(level, n, name, arg);
    for (Cpu c : machine.cpus()) {
      Softhand sh = c.softhand[level][n];
      // "sh->sh_flags = flags": flags left over from a disestablish that missed a pending
      // dispatch are wiped while the record is still queued, which softint_execute's
      // KASSERT((sh->sh_flags & SOFTINT_PENDING) != 0) then catches.
      sh.flagsReset = (c.softPending.get(level) & (1L << n)) != 0;
      sh.handle = h;
      sh.func = fn;
    }
    return h;
  }

  /**
   * {@code softint_disestablish(sih)}: waits until {@code h} runs on no CPU, then clears it on
   * every CPU and frees its slot. The caller must not schedule {@code h} again, and must not
   * hold a lock the handler may take. Thread context; sleeps (a cross call, then a tick at a
   * time). How it waits is {@link #OPTION_DISESTABLISH}.
   */
  public void disestablish(Handle h) {
    Runnable xc = xcNullop;
    if (xc == null) {
      throw new IllegalStateException("softint_disestablish needs xcall attached to the machine");
    }
    if (machine.cpu(0).softhand[h.level][h.bit].handle != h) {
      throw new IllegalArgumentException("softint_disestablish of " + h + ": not established");
    }
    // "Run a cross call so we see up to date values of sh_flags from all CPUs."
    xc.run();
    long want = disestablishWait == Disestablish.ACTIVE ? activeBit(h)
        : activeBit(h) | pendingBit(h);
    for (;;) {
      long flags = 0;
      for (Cpu c : machine.cpus()) {
        Kassert.kassert(c.softhand[h.level][h.bit].func != null, "sh->sh_func != NULL",
            KERN_SOFTINT_C, 0);
        flags |= c.softPending.get(h.level);
      }
      if ((flags & want) == 0) {
        break;
      }
      Kern.kpause("softdis", 1);
    }
    synchronized (this) {
      for (Cpu c : machine.cpus()) {
        Softhand sh = c.softhand[h.level][h.bit];
        Kassert.kassert(sh.func != null, "sh->sh_func != NULL", KERN_SOFTINT_C, 0);
        sh.func = null;
      }
    }
  }

  private static long pendingBit(Handle h) {
    return 1L << h.bit;
  }

  private static long activeBit(Handle h) {
    return 1L << (ACTIVE_SHIFT + h.bit);
  }

  /**
   * Sets {@code softint_disestablish}'s cross call, {@code xc_wait(xc_broadcast(0, nullop))}:
   * called by xcall when it attaches to the machine at boot.
   */
  public void setXcNullop(Runnable r) {
    this.xcNullop = r;
  }

  /** True while {@code h} is pending on {@code c} (SOFTINT_PENDING): for tests and reports. */
  public boolean pendingOn(Handle h, Cpu c) {
    return (c.softPending.get(h.level) & pendingBit(h)) != 0;
  }

  /** True while {@code h}'s handler runs on {@code c} (SOFTINT_ACTIVE). */
  public boolean activeOn(Handle h, Cpu c) {
    return (c.softPending.get(h.level) & activeBit(h)) != 0;
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

  /**
   * The softint LWP's body, {@code softint_thread} + {@code softint_execute}: run what is
   * pending at {@code level} on {@code c}, a round at a time (F3), else idle.
   */
  private void loop(Cpu c, int level) {
    Lwp l = Lwp.current();
    started.countDown();
    Softhand[] hand = c.softhand[level];
    for (;;) {
      long round = c.softPending.get(level) & PENDING_MASK;
      if (round == 0) {
        machine.sched.sleepIdle(l, () -> (c.softPending.get(level) & PENDING_MASK) != 0);
        continue;
      }
      c.ipl = level;
      while (round != 0) {
        int b = Long.numberOfTrailingZeros(round);
        round &= round - 1;
        long bit = 1L << b;
        Softhand sh = hand[b];
        c.softPending.getAndAdd(level, (bit << ACTIVE_SHIFT) - bit);   // F2
        if (sh.flagsReset) {
          throw Kassert.fail("(sh->sh_flags & SOFTINT_PENDING) != 0", KERN_SOFTINT_C, 0);
        }
        Runnable fn = sh.func;
        c.trace.add(Trace.SOFTINT, l.id(), level, b);
        if (fn == null) {
          lateDispatch(c, sh.handle);
        }
        fn.run();
        if (Kassert.DIAGNOSTIC && l.psrefs != 0) {
          // KASSERTMSG(l->l_psrefs == 0, ...): the handle is read only when it fails.
          throw Kassert.failMsg("l->l_psrefs == 0", KERN_SOFTINT_C, 593,
              "%s: l_psrefs=%d, sh_func=%p\n", "softint_execute", l.psrefs, sh.handle);
        }
        c.softPending.getAndAdd(level, -(bit << ACTIVE_SHIFT));
        Kern.preemptPoint(l);
      }
    }
  }

  /**
   * A dispatch of a slot whose sh_func a disestablish cleared: NetBSD calls through NULL and
   * takes a page fault. The handler's owner has freed what it was given, so the panic names the
   * handler, its argument and the CPU.
   */
  private static void lateDispatch(Cpu c, Handle h) {
    throw Kassert.panic("use after free: softint_execute on %s: softint %s (arg %s) was "
        + "disestablished while pending here: sh_func == NULL (trap type 6, call through NULL)",
        c, h.name, h.arg);
  }

  /**
   * {@code softhand_t}: one CPU's record of one slot. {@code func} is written under the softint
   * table's lock (establish, disestablish) and read by the CPU's softint LWP at dispatch.
   */
  static final class Softhand {
    volatile Runnable func;
    /** The handle last established in this slot (names it in panics). */
    volatile Handle handle;
    /** {@code sh_flags} rewritten while the record was still pending: see establish. */
    volatile boolean flagsReset;
  }
}
