package org.mpsafe.xcall;

import static com.google.common.base.Preconditions.checkNotNull;
import static com.google.common.base.Preconditions.checkState;

import java.util.List;
import java.util.function.Consumer;
import org.mpsafe.kern.BootAttachment;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.EvCnt;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineStopped;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Trace;

/**
 * Cross calls ({@code sys/kern/subr_xcall.c}): run a function on every CPU, or on one, and wait
 * until it has run.
 *
 * <pre>{@code
 * long where = Xcall.broadcast(0, (a1, a2) -> flushLocal(a1), tlb, null);  // xc_broadcast
 * Xcall.waitFor(where);                                                     // xc_wait
 * }</pre>
 *
 * <p>Low priority (flags 0): the function runs on each target CPU in that CPU's bound
 * {@code xcall/N} thread at {@code PRI_XCALL}, in thread context: it has the CPU to itself
 * against other threads but softints may preempt it. One low-priority job runs system-wide at a
 * time; a requester sleeps until the previous job is over. Slow, heavyweight, not for hot paths.
 * High priority ({@link #XC_HIGHPRI}, {@link #XC_HIGHPRI_IPL}): the function runs in a softint
 * at a soft IPL on each target CPU and must not block.
 *
 * <p>Callers must be in a sleepable thread context: not in a softint (KASSERT). The arguments
 * are handed over by reference, as C hands {@code void *}: whatever they point at must stay
 * valid until {@link #waitFor} returns — the contract PR kern/51632 broke.
 *
 * <pre>
 * Implementation notes
 *
 * C to Java: xc_low_pri/xc_high_pri are two XcState boxes per Machine; ci_data.cpu_xcall and
 * cpu_xcall_pending are the arrays cpuXcall[]/pending[] indexed by cpu_index (kern's cpu_info
 * does not know xcall); tickets are longs with XC_PRI_BIT = bit 63 for high priority.
 *
 * Invariants (I1..I4 are NetBSD's; XcallContractTest and the spin model check them):
 *  I1 headp, donep (and legacy tailp) only grow, and change only under xc_lock.
 *  I2 Admission: a requester posts a job only when the previous job is "over":
 *     FIXED_DONEP  headp == donep  (every callback returned)
 *     LEGACY_TAILP headp == tailp  (every callback *started*: the bug)
 *  I3 xc_wait(where) returns iff donep >= where. Tickets do not name jobs, so I3 means "my
 *     job is done" only if jobs never overlap — true under FIXED_DONEP (I2), false under
 *     LEGACY_TAILP, where a later job's completions raise the shared donep.
 *  I4 A CPU runs a low-priority callback only in its own bound xcall/N thread (KASSERT
 *     ci == curcpu()), with l_nopreempt == 0 before and after it.
 * Ordering: a callback's writes happen-before the waiter's return: the thread increments donep
 * under xc_lock after the callback; the waiter reads donep under xc_lock or, on the fast path,
 * as a volatile read (NetBSD >= 1.31 uses atomic_load_acquire there; 1.18 read it plainly).
 *
 * Where the window opens: in xc_thread, mutex_exit(xc_lock) after taking a job is a
 * preemption point; a softint (softnet under forwarding load) that takes the CPU there delays
 * the callback while the thread has already counted itself in tailp.
 *
 * Differences from NetBSD: with OPTION_WAIT_SPIN on (the default), xc_wait spins briefly (up to
 * XcState.SPINS volatile reads of donep, a few microseconds, each with a preemption point)
 * before sleeping, so that a round whose targets are running does not park the waiter. NetBSD's
 * xc_wait (1.18, NetBSD 6/7, and later) checks donep once and then sleeps on xc_busy; boot with
 * OPTION_WAIT_SPIN = false for exactly that. The condition waited for is the same either way,
 * so the spin changes latency and interleavings, never what xc_wait promises (I3). The default
 * stays on because the benchmarks' baselines were taken with it; docs/performance.md compares
 * the time to panic of the stress repro with and without it. The low-priority handoff to an
 * xcall/N thread is a cv_signal, as in C; the thread sleeps on an idle-wait condvar that the
 * watchdog ignores.
 * </pre>
 */
public final class Xcall {
  /** Boot option: {@link XcallAccounting}; default {@link XcallAccounting#FIXED_DONEP}. */
  public static final String OPTION_ACCOUNTING = "xcall.accounting";
  /** Boot option: Boolean, the early-return detector; default off. */
  public static final String OPTION_DETECTOR = "xcall.earlyReturnDetector";
  /**
   * Boot option: Boolean, whether {@code xc_wait} spins on {@code xc_donep} before sleeping;
   * default on. Off is NetBSD's {@code xc_wait}: one check, then {@code cv_wait}.
   */
  public static final String OPTION_WAIT_SPIN = "xcall.waitSpin";

  /** {@code XC_HIGHPRI}. */
  public static final int XC_HIGHPRI = 0x01;
  /** {@code XC_PRI_BIT}: set in high-priority tickets. */
  public static final long XC_PRI_BIT = 1L << 63;
  static final int XC_IPL_SHIFT = 8;
  static final int XC_IPL_MASK = 0xff00;

  static final String FILE = "sys/kern/subr_xcall.c";
  static final int XC_DISPATCH = Trace.kind("xc_dispatch");
  static final int XC_CB_START = Trace.kind("xc_callback_start");
  static final int XC_CB_END = Trace.kind("xc_callback_end");
  static final int XC_WAIT_RETURN = Trace.kind("xc_wait_return");

  final Machine machine;
  final XcallAccounting accounting;
  /** Spins of xc_wait before sleeping: XcState.SPINS, or 0 with OPTION_WAIT_SPIN off. */
  final int waitSpins;
  final XcState lo = new XcState("xclocv", new KMutex("xc_lock"));
  private final KCondvar[] cpuXcall;
  /** {@code ci->ci_data.cpu_xcall_pending}, per CPU; under lo.lock. */
  private final boolean[] pending;
  /** {@code xc_tailp}: LEGACY_TAILP only; under lo.lock. */
  private long xcTailp;
  /** The job number of the current low-priority job (for the detector); under lo.lock. */
  private long jobs;
  final XcHighpri hi;
  final EvCnt broadcastEv;
  final EvCnt unicastEv;
  final EvCnt highpriEv;
  final EarlyReturnDetector detector;
  private volatile XcallHooks hooks;

  private Xcall(Machine m) {
    this.machine = m;
    this.accounting = m.config().option(OPTION_ACCOUNTING, XcallAccounting.FIXED_DONEP);
    this.waitSpins = m.config().option(OPTION_WAIT_SPIN, Boolean.TRUE) ? XcState.SPINS : 0;
    this.detector = Boolean.TRUE.equals(m.config().option(OPTION_DETECTOR, Boolean.FALSE))
        ? new EarlyReturnDetector() : null;
    this.broadcastEv = new EvCnt(m, "crosscall", "broadcast");
    this.unicastEv = new EvCnt(m, "crosscall", "unicast");
    this.highpriEv = new EvCnt(m, "crosscall", "highpri");
    int n = m.ncpu();
    this.cpuXcall = new KCondvar[n];
    this.pending = new boolean[n];
    this.hi = new XcHighpri(this);
    for (int i = 0; i < n; i++) {
      cpuXcall[i] = KCondvar.forIdleWait("xcall");
    }
    for (int i = 0; i < n; i++) {
      Cpu ci = m.cpu(i);
      m.kthreadCreate(Pri.PRI_XCALL, Machine.KTHREAD_MPSAFE, ci, () -> xcThread(ci),
          "xcall/" + i);
    }
  }

  /**
   * The xcall state of {@code m}, made at boot ({@code xc_init} + {@code xc_init_cpu} for every
   * CPU, {@link Attach}).
   *
   * @throws IllegalStateException if xcall did not attach to {@code m} at boot
   */
  public static Xcall of(Machine m) {
    Xcall x = m.subsystem(Xcall.class);
    if (x == null) {
      throw new IllegalStateException("xcall is not attached to this machine: boot it with "
          + "xcall's META-INF/services/org.mpsafe.kern.BootAttachment on the class path");
    }
    return x;
  }

  /**
   * Attaches xcall to every machine at boot: its state and the bound {@code xcall/N} thread of
   * each CPU, as NetBSD's {@code xc_init_cpu()} does when a CPU attaches.
   */
  public static final class Attach implements BootAttachment {
    @Override
    public void attach(Machine m) {
      m.attachSubsystem(Xcall.class, new Xcall(m));
      // softint_disestablish's "xc_wait(xc_broadcast(0, (xcfunc_t)nullop, NULL, NULL))"
      m.softint().setXcNullop(() -> waitFor(broadcast(0, Xcall::xcNop, null, null)));
    }
  }

  private static Xcall current() {
    return of(Lwp.current().machine());
  }

  /** {@code XC_HIGHPRI_IPL(ipl)}: a high-priority xcall whose softint runs at soft IPL {@code ipl}. */
  public static int XC_HIGHPRI_IPL(int ipl) {
    return XC_HIGHPRI | (XcHighpri.encodeIpl(ipl) << XC_IPL_SHIFT);
  }

  /** {@code xc_broadcast(flags, func, arg1, arg2)}: run {@code func} on all CPUs. May sleep. */
  public static long broadcast(int flags, XcFunc func, Object arg1, Object arg2) {
    Kassert.kassert(!Kern.cpuIntrP() && !Kern.cpuSoftintrP(),
        "!cpu_intr_p() && !cpu_softintr_p()", FILE, 184);
    Xcall xc = current();
    if ((flags & XC_HIGHPRI) != 0) {
      return xc.hi.highpri(func, arg1, arg2, null, XcHighpri.decodeIpl(flags));
    }
    return xc.lowpri(func, arg1, arg2, null);
  }

  /** {@code xc_unicast(flags, func, arg1, arg2, ci)}: run {@code func} on {@code ci}. May sleep. */
  public static long unicast(int flags, XcFunc func, Object arg1, Object arg2, Cpu ci) {
    Kassert.kassert(ci != null, "ci != NULL", FILE, 203);
    Kassert.kassert(!Kern.cpuIntrP() && !Kern.cpuSoftintrP(),
        "!cpu_intr_p() && !cpu_softintr_p()", FILE, 204);
    Xcall xc = current();
    if ((flags & XC_HIGHPRI) != 0) {
      return xc.hi.highpri(func, arg1, arg2, ci, XcHighpri.decodeIpl(flags));
    }
    return xc.lowpri(func, arg1, arg2, ci);
  }

  /**
   * {@code xc_wait(where)}: sleeps until the cross call with ticket {@code where} is done, i.e.
   * until {@code xc_donep >= where} (see I3 for what that does and does not promise).
   */
  public static void waitFor(long where) {
    Kassert.kassert(!Kern.cpuIntrP() && !Kern.cpuSoftintrP(),
        "!cpu_intr_p() && !cpu_softintr_p()", FILE, 223);
    Xcall xc = current();
    XcallHooks h = xc.hooks;
    if (h != null) {
      h.beforeWait(where);
    }
    if ((where & XC_PRI_BIT) != 0) {
      xc.hi.state.waitDone(where & ~XC_PRI_BIT, xc.waitSpins);
      return;
    }
    xc.lo.waitDone(where, xc.waitSpins);
    Trace.record(XC_WAIT_RETURN, where, xc.lo.donep);
    XcallEvents.WaitReturn ev = new XcallEvents.WaitReturn();
    if (ev.isEnabled()) {
      ev.ticket = where;
      ev.donep = xc.lo.donep;
      ev.commit();
    }
    if (xc.detector != null) {
      xc.detector.waitReturned(where, xc.lo.donep, xc.machine.uptimeNanos());
    }
  }

  /** {@code xc_barrier(flags)}: broadcast a no-op and wait for it. May sleep. */
  public static void barrier(int flags) {
    waitFor(broadcast(flags, Xcall::xcNop, null, null));
  }

  private static void xcNop(Object a1, Object a2) {}

  /*
   * PR kern/51632 in one place. The historical accounting counted a callback as over when it
   * *started* (xc_tailp, incremented in xc_thread before the call); the fix counts it when it
   * returned (xc_donep). The diff:
   *   -	while (xc->xc_headp != xc_tailp) {          (xc_lowpri: admission)
   *   +	while (xc->xc_headp != xc->xc_donep) {
   *   -	KASSERT(xc_tailp < xc->xc_headp);            (xc_lowpri: after posting)
   *   +	KASSERT(xc->xc_donep < xc->xc_headp);
   *   -			if (xc->xc_headp == xc_tailp) {        (xc_thread: wake requesters)
   *   +			if (xc->xc_headp == xc->xc_donep) {
   *   -		xc_tailp++;                                (xc_thread: before the call)
   * overCount() is the right-hand side of the first three lines; countStarted() the last.
   */
  private long overCount() {
    return accounting == XcallAccounting.LEGACY_TAILP ? xcTailp : lo.donep;
  }

  private void countStarted() {
    if (accounting == XcallAccounting.LEGACY_TAILP) {
      xcTailp++;
    }
  }

  /** {@code xc_lowpri}: post one low-priority job. Sleeps for admission. */
  private long lowpri(XcFunc func, Object arg1, Object arg2, Cpu ci) {
    lo.lock.enter();
    while (lo.headp != overCount()) {
      lo.busy.await(lo.lock);
    }
    lo.arg1 = arg1;
    lo.arg2 = arg2;
    lo.func = func;
    long sent = 0;
    if (ci == null) {
      broadcastEv.incr();
      for (Cpu c : machine.cpus()) {
        if ((c.spcFlags() & Cpu.SPCF_RUNNING) == 0) {
          continue;
        }
        post(c);
        sent |= 1L << c.index();
      }
    } else {
      unicastEv.incr();
      post(ci);
      sent = 1L << ci.index();
    }
    Kassert.kassert(overCount() < lo.headp, accounting == XcallAccounting.LEGACY_TAILP
        ? "xc_tailp < xc->xc_headp" : "xc->xc_donep < xc->xc_headp", FILE, line(280));
    long where = lo.headp;
    lo.job = ++jobs;
    if (detector != null) {
      detector.admitted(lo.job, where, sent);
    }
    Trace.record(XC_DISPATCH, where, sent);
    XcallEvents.Job ev = new XcallEvents.Job();
    if (ev.isEnabled()) {
      ev.ticket = where;
      ev.job = lo.job;
      ev.cpus = sent;
      ev.commit();
    }
    lo.lock.exit();
    Kassert.kassert((where & XC_PRI_BIT) == 0, "(where & XC_PRI_BIT) == 0", FILE, line(285));
    return where;
  }

  private void post(Cpu c) {
    lo.headp += 1;
    pending[c.index()] = true;
    cpuXcall[c.index()].signal();
  }

  /** {@code xc_thread}: one per CPU, bound, dispatches low-priority calls. */
  private void xcThread(Cpu ci) {
    Lwp l = Lwp.current();
    int i = ci.index();
    Kassert.kassertMsg(l.nopreempt() == 0, "l->l_nopreempt == 0", FILE, line(302),
        "lwp %p nopreempt %d", l, l.nopreempt());
    lo.lock.enter();
    for (;;) {
      while (!pending[i]) {
        if (lo.headp == overCount()) {
          lo.busy.broadcast();
        }
        cpuXcall[i].await(lo.lock);
        Kassert.kassert(ci == Kern.curcpu(), "ci == curcpu()", FILE, line(309));
      }
      pending[i] = false;
      XcFunc func = lo.func;
      Object arg1 = lo.arg1;
      Object arg2 = lo.arg2;
      long job = lo.job;
      countStarted();
      if (detector != null) {
        detector.started(job, i);
      }
      lo.lock.exit();
      XcallHooks h = hooks;
      if (h != null) {
        h.beforeCallback(ci, job);
      }

      Kassert.kassert(func != null, "func != NULL", FILE, line(318));
      Trace.record(XC_CB_START, lo.headp, job);
      XcallEvents.Callback ev = new XcallEvents.Callback();
      ev.begin();
      call(func, arg1, arg2, l);
      ev.end();
      if (ev.shouldCommit()) {
        ev.cpu = i;
        ev.job = job;
        ev.commit();
      }
      Trace.record(XC_CB_END, lo.headp, job);
      Kassert.kassertMsg(l.nopreempt() == 0, "l->l_nopreempt == 0", FILE, line(320),
          "lwp %p nopreempt %d func %p", l, l.nopreempt(), func);

      lo.lock.enter();
      // The detector's bit goes before donep++: a waiter on xc_wait's unlocked fast path may
      // return the instant it sees donep >= where and then reads the job's finished mask, so
      // the bit must be visible by then, or the waiter would report an early return that never
      // happened (even under FIXED_DONEP with a single requester). Observation only: the
      // algorithm's order (callback, then donep++) is NetBSD's.
      if (detector != null) {
        detector.finished(job, i);
      }
      lo.donep++;
    }
  }

  /** Runs a callback; one that throws is a kernel bug and panics, naming the function. */
  static void call(XcFunc func, Object arg1, Object arg2, Lwp l) {
    try {
      func.call(arg1, arg2);
    } catch (KernelPanic | MachineStopped e) {
      throw e;
    } catch (RuntimeException | Error e) {
      throw Kassert.panic("%s: xcall function %p threw %s", l.name(), func, e);
    }
  }

  /**
   * The line of an assertion in the subr_xcall.c of the running mode: 1.18 for LEGACY_TAILP,
   * 1.18 with the PR's diff applied for FIXED_DONEP (two declaration/init lines and the
   * xc_tailp++ line gone).
   */
  int line(int legacyLine) {
    if (accounting == XcallAccounting.LEGACY_TAILP) {
      return legacyLine;
    }
    int d = (legacyLine > 108 ? 1 : 0) + (legacyLine > 137 ? 1 : 0) + (legacyLine > 315 ? 1 : 0);
    return legacyLine - d;
  }

  /**
   * Installs fault-injection hooks (null removes them). They run at two places where a NetBSD
   * kernel has a preemption point and so may lose the CPU for a while: in xc_thread right after
   * mutex_exit(xc_lock) (the callback delayed after xc_tailp++), and at the start of xc_wait
   * (the requester delayed between xc_broadcast and xc_wait). They make the PR's interleaving
   * deterministic in tests; they add nothing the scheduler could not do, and cost one volatile
   * read when absent.
   */
  public void setHooks(XcallHooks h) {
    this.hooks = h;
  }

  // ---- statistics -------------------------------------------------------------------------

  public Machine machine() {
    return machine;
  }

  public XcallAccounting accounting() {
    return accounting;
  }

  /** Whether {@code xc_wait} spins before sleeping ({@link #OPTION_WAIT_SPIN}). */
  public boolean waitSpin() {
    return waitSpins > 0;
  }

  /** Low-priority jobs posted ({@code crosscall broadcast} + {@code unicast}). */
  public long lowpriCount() {
    return broadcastEv.value() + unicastEv.value();
  }

  public long broadcastCount() {
    return broadcastEv.value();
  }

  public long unicastCount() {
    return unicastEv.value();
  }

  /** High-priority jobs posted. */
  public long highpriCount() {
    return highpriEv.value();
  }

  /** Early returns seen by the detector (0 when it is off). */
  public long earlyReturns() {
    return detector == null ? 0 : detector.count();
  }

  public boolean detectorEnabled() {
    return detector != null;
  }

  /** The first early returns seen (at most 64). */
  public List<EarlyReturn> earlyReturnEvents() {
    return detector == null ? List.of() : detector.recent();
  }

  /** Calls {@code l} (in the waiter's thread) for each early return; detector must be on. */
  public void onEarlyReturn(Consumer<EarlyReturn> l) {
    checkNotNull(l, "listener");
    checkState(detector != null, "the early-return detector is off; boot with %s=true",
        OPTION_DETECTOR);
    detector.addListener(l);
  }

  /** {@code xc_low_pri.xc_headp} (racy). */
  public long lowpriHeadp() {
    return lo.headp;
  }

  /** {@code xc_low_pri.xc_donep}. */
  public long lowpriDonep() {
    return lo.donep;
  }

  /** {@code xc_low_pri}'s counters as {@code headp/donep/tailp}, for reports. Racy. */
  public String lowpriState() {
    return "xc_headp=" + lo.headp + " xc_donep=" + lo.donep
        + (accounting == XcallAccounting.LEGACY_TAILP ? " xc_tailp=" + xcTailp : "");
  }
}
