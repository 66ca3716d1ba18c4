package org.mpsafe.kern;

/**
 * The kernel environment as ported code sees it: {@code curlwp}, {@code curcpu}, kernel
 * preemption control, spl, preemption points, {@code kpause}, ticks.
 *
 * <p>Every method must be called from an LWP (a kthread, a softint, or a host thread inside
 * {@link Machine#run}). Java names for Java readers; each Javadoc names the C function.
 */
public final class Kern {
  private Kern() {}

  /** {@code EWOULDBLOCK}: a timed sleep ran out. */
  public static final int EWOULDBLOCK = 35;

  /** {@code curlwp}. */
  public static Lwp curlwp() {
    return Lwp.current();
  }

  /** {@code curcpu()}: the CPU the calling LWP runs on. */
  public static Cpu curcpu() {
    return Lwp.current().cpu;
  }

  /** {@code cpu_index(curcpu())}. */
  public static int curcpuIndex() {
    return Lwp.current().cpu.index();
  }

  /** {@code kpreempt_disable()}: no preemption, and so no migration, until the matching enable. */
  public static void kpreemptDisable() {
    Lwp.current().nopreempt++;
  }

  /** {@code kpreempt_enable()}: a preemption point when the count drops to 0. */
  public static void kpreemptEnable() {
    Lwp l = Lwp.current();
    Kassert.kassert(l.nopreempt > 0, "l->l_nopreempt > 0", "sys/kern/kern_cpu.c", 0);
    if (--l.nopreempt == 0) {
      preemptPoint(l);
    }
  }

  /** {@code kpreempt_disabled()}: preemption off, or the IPL raised (no preemption then). */
  public static boolean kpreemptDisabled() {
    return kpreemptDisabled(Lwp.current());
  }

  /** {@link #kpreemptDisabled()} for {@code l == curlwp}. */
  public static boolean kpreemptDisabled(Lwp l) {
    return l.nopreempt != 0 || l.cpu.ipl > Ipl.IPL_NONE;
  }

  /** {@code cpu_softintr_p()}: true in a softint LWP. */
  public static boolean cpuSoftintrP() {
    return (Lwp.current().pflag & Lwp.LP_INTR) != 0;
  }

  /** {@code cpu_intr_p()}: the machine has no hardware interrupts, so always false. */
  public static boolean cpuIntrP() {
    return false;
  }

  /**
   * {@code curlwp_bind()}: binds the LWP to its CPU until {@link #curlwpBindx}; returns the
   * previous {@code LP_BOUND} bit to hand back to it.
   */
  public static int curlwpBind() {
    Lwp l = Lwp.current();
    int bound = l.pflag & Lwp.LP_BOUND;
    if (bound == 0) {
      l.boundCpu = l.cpu;
      l.pflag |= Lwp.LP_BOUND;
    }
    return bound;
  }

  /** {@code curlwp_bindx(bound)}: restores the binding {@link #curlwpBind} saved. */
  public static void curlwpBindx(int bound) {
    Lwp l = Lwp.current();
    Kassert.kassert((l.pflag & Lwp.LP_BOUND) != 0, "curlwp->l_pflag & LP_BOUND",
        "sys/sys/lwp.h", 552);
    if (bound == 0) {
      l.pflag &= ~Lwp.LP_BOUND;
      l.boundCpu = null;
    }
  }

  /** {@code splraiseipl(ipl)}: raises the CPU's IPL to at least {@code ipl}; returns the old. */
  public static int splraiseipl(int ipl) {
    Cpu c = Lwp.current().cpu;
    int s = c.ipl;
    if (ipl > s) {
      c.ipl = ipl;
    }
    return s;
  }

  /** {@link #splraiseipl(int)} for a caller that already holds {@code l == curlwp}. */
  public static int splraiseipl(Lwp l, int ipl) {
    Cpu c = l.cpu;
    int s = c.ipl;
    if (ipl > s) {
      c.ipl = ipl;
    }
    return s;
  }

  /**
   * {@code splraiseipl(ipl)} on {@code c}, the CPU of {@code curlwp}, read once by a hot path
   * such as {@code psref_acquire} that uses it again (at a raised IPL the LWP is neither
   * preempted nor migrated, so {@code c} stays its CPU until {@link #splx}).
   */
  public static int splraiseipl(Cpu c, int ipl) {
    int s = c.ipl;
    if (ipl > s) {
      c.ipl = ipl;
    }
    return s;
  }

  /** {@code splx(s)}: restores an IPL; lowering it is a preemption point. */
  public static void splx(int s) {
    splx(Lwp.current(), s);
  }

  /** {@link #splx(int)} for a caller that already holds {@code l == curlwp}. */
  public static void splx(Lwp l, int s) {
    splx(l, l.cpu, s);
  }

  /** {@link #splx(int)} for {@code l == curlwp} on {@code c == curcpu()}, read by a hot path. */
  public static void splx(Lwp l, Cpu c, int s) {
    int old = c.ipl;
    c.ipl = s;
    if (s < old) {
      preemptPoint(l, c);
    }
  }

  /** {@code splsoftnet()}. */
  public static int splsoftnet() {
    return splraiseipl(Ipl.IPL_SOFTNET);
  }

  /** {@code splsoftserial()}. */
  public static int splsoftserial() {
    return splraiseipl(Ipl.IPL_SOFTSERIAL);
  }

  /** {@code splhigh()}. */
  public static int splhigh() {
    return splraiseipl(Ipl.IPL_HIGH);
  }

  /**
   * {@code preempt()}: an explicit preemption point. Costs one plain read when nobody of higher
   * priority waits for this CPU; otherwise hands the CPU over if preemption is enabled and the
   * IPL allows it.
   */
  public static void preempt() {
    preemptPoint(Lwp.current());
  }

  static void preemptPoint(Lwp l) {
    DetScheduler det = l.det;
    if (det != null) {
      if (det.inDevice()) {
        return;
      }
      det.step(l, false);
    }
    if (l.cpu.wantPri > l.pri) {
      l.machine().sched.preempt(l, false);
    }
  }

  /**
   * {@link #preemptPoint(Lwp)} for a hot path that holds {@code c == curcpu()}: on the host
   * machine the CPU cannot change before the check (the check is what could move the LWP); on
   * the deterministic machine a step may hand the CPU over and back, so it reads it afresh.
   */
  static void preemptPoint(Lwp l, Cpu c) {
    if (l.det != null) {
      preemptPoint(l);
      return;
    }
    if (c.wantPri > l.pri) {
      l.machine().sched.preempt(l, false);
    }
  }

  /**
   * A scheduling point that is not a preemption point (a lock entry): on a deterministic machine
   * another CPU's LWP may run here; nothing otherwise.
   */
  static void schedPoint(Lwp l) {
    DetScheduler det = l.det;
    if (det != null) {
      det.step(l, false);
    }
  }

  /** Busy-wait iterations that only pause the host CPU before {@link #spinWait} yields it. */
  static final int SPIN_PAUSES = 64;

  /**
   * Iteration {@code i} (from 0) of a busy-wait for another LWP ({@code SPINLOCK_BACKOFF}): on a
   * deterministic machine a scheduling point at which the spinner lets another LWP run (it could
   * never see the change it waits for otherwise); on the host-scheduled machine a CPU pause for
   * the first {@link #SPIN_PAUSES} iterations, then a {@code Thread.yield}. The yield is for
   * a host with fewer cores than the machine has busy LWPs: the LWP the spinner waits for may
   * be queued by the OS on the very core the spinner holds, and a pause-only spin would keep it
   * off until the spin ends (xc_wait's 2,000 pauses are ≈ 60 µs on this host's CPU).
   */
  public static void spinWait(int i) {
    Lwp l = Lwp.currentOrNull();
    DetScheduler det = l == null ? null : l.det;
    if (det != null) {
      det.step(l, true);
    } else if (i < SPIN_PAUSES) {
      Thread.onSpinWait();
    } else {
      Thread.yield();
    }
  }

  /** {@code yield()}: lets any LWP waiting for this CPU run first (a time slice ends). */
  public static void yield() {
    Lwp l = Lwp.current();
    DetScheduler det = l.det;
    if (det != null) {
      det.step(l, true);
    }
    if (l.cpu.anyWaiter) {
      l.machine().sched.preempt(l, true);
    }
  }

  /** {@code kpause(wmesg, intr, timo, mtx)} without the mutex: sleeps {@code ticks} ticks. */
  public static void kpause(String wmesg, int ticks) {
    if (ticks <= 0) {
      throw new IllegalArgumentException("kpause ticks must be > 0: " + ticks);
    }
    Lwp l = Lwp.current();
    Machine m = l.machine();
    Sleepq q = new Sleepq(false);
    q.enqueue(l);
    q.block(l, wmesg, m.clockNanos() + m.ticksToNanos(ticks));
  }

  /** {@code getticks()}: ticks of {@code hz} since boot. */
  public static int getticks() {
    return Lwp.current().machine().getticks();
  }

  /** {@code hz}. */
  public static int hz() {
    return Lwp.current().machine().hz();
  }

  /**
   * {@code ASSERT_SLEEPABLE()}: panics {@code assert_sleepable: <reason> caller=%p} in an
   * interrupt, a softint or a pserialize read section ({@code sys/kern/kern_lock.c}).
   */
  public static void assertSleepable() {
    if (!Kassert.DIAGNOSTIC) {
      return;
    }
    Lwp l = Lwp.current();
    String reason = null;
    if ((l.pflag & Lwp.LP_INTR) != 0) {
      reason = "softint";
    }
    if (l.pserializeDepth > 0) {
      reason = "pserialize";
    }
    if (reason != null) {
      throw Kassert.panic("%s: %s caller=%p", "assert_sleepable", reason, l);
    }
  }
}
