package org.mpsafe.xcall;

import static com.google.common.base.Preconditions.checkArgument;

import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Softint;

/**
 * High-priority cross calls ({@code xc_highpri}, {@code xc__highpri_intr}, {@code xc_ipi_handler},
 * {@code xc_encode_ipl}) as of NetBSD 8 ({@code subr_xcall.c} 1.23 and later): the function runs
 * in a softint at the requested soft IPL on each target CPU.
 *
 * <pre>
 * Implementation notes
 *
 * The IPI is modelled as softint_schedule_cpu() of the level's xcall softint on the remote CPU:
 * it becomes runnable there and takes the CPU at that CPU's next preemption point where the IPL
 * allows (at once if the CPU is idle). The local CPU's softint is scheduled last, with
 * preemption disabled as in C; kpreempt_enable() is the preemption point that runs it.
 * Broadcast adds ncpu to headp (not only SPCF_RUNNING CPUs), as NetBSD does. The state box's
 * lock is a spin mutex at IPL_SOFTSERIAL ("xc_high_pri"). The callback reads func/args without
 * the lock: they cannot change until every CPU has counted itself in donep. This path never had
 * the xc_tailp bug.
 * </pre>
 */
final class XcHighpri {
  /** {@code XC_IPL_SOFTSERIAL} .. {@code XC_IPL_SOFTCLOCK} (1.26 numbering). */
  private static final int[] IPL_OF_CODE = {
    Ipl.IPL_SOFTSERIAL, Ipl.IPL_SOFTNET, Ipl.IPL_SOFTBIO, Ipl.IPL_SOFTCLOCK
  };

  private final Xcall xc;
  final XcState state = new XcState("xchicv",
      new KMutex("xc_high_pri", KMutex.MUTEX_SPIN, Ipl.IPL_SOFTSERIAL));
  /** {@code xc_sihs[]}: one softint per soft level, indexed by XC_IPL code. */
  private final Softint.Handle[] sihs = new Softint.Handle[IPL_OF_CODE.length];

  XcHighpri(Xcall xc) {
    this.xc = xc;
    for (int code = 0; code < IPL_OF_CODE.length; code++) {
      sihs[code] = xc.machine.softint().establish(IPL_OF_CODE[code], this::highpriIntr,
          "xcall/" + Ipl.name(IPL_OF_CODE[code]));
    }
  }

  /** {@code xc_encode_ipl(ipl)}: panics {@code Invalid IPL: %d} for a non-soft IPL. */
  static int encodeIpl(int ipl) {
    switch (ipl) {
      case Ipl.IPL_SOFTSERIAL:
        return 0;
      case Ipl.IPL_SOFTNET:
        return 1;
      case Ipl.IPL_SOFTBIO:
        return 2;
      case Ipl.IPL_SOFTCLOCK:
        return 3;
      default:
        throw Kassert.panic("Invalid IPL: %d", ipl);
    }
  }

  /** The XC_IPL code in {@code flags} (plain {@code XC_HIGHPRI} = IPL_SOFTSERIAL). */
  static int decodeIpl(int flags) {
    int code = (flags & Xcall.XC_IPL_MASK) >>> Xcall.XC_IPL_SHIFT;
    checkArgument(code < IPL_OF_CODE.length, "bad XC_IPL code in xcall flags: 0x%s",
        Integer.toHexString(flags));
    return code;
  }

  /** {@code xc_highpri}. */
  long highpri(XcFunc func, Object arg1, Object arg2, Cpu ci, int iplCode) {
    XcState s = state;
    s.lock.enter();
    while (s.headp != s.donep) {
      s.busy.await(s.lock);
    }
    s.func = func;
    s.arg1 = arg1;
    s.arg2 = arg2;
    s.headp += ci != null ? 1 : xc.machine.ncpu();
    s.ipl = iplCode;
    long where = s.headp;
    s.lock.exit();
    xc.highpriEv.incr();
    XcallEvents.Job ev = new XcallEvents.Job();
    if (ev.isEnabled()) {
      ev.ticket = where | Xcall.XC_PRI_BIT;
      ev.cpus = ci != null ? 1L << ci.index() : -1L >>> (64 - xc.machine.ncpu());
      ev.highpri = true;
      ev.commit();
    }

    Kern.kpreemptDisable();
    Cpu self = Kern.curcpu();
    Softint.Handle sih = sihs[iplCode];
    if (ci == self) {
      ipiHandler(sih, self);
    } else if (ci != null) {
      sendIpi(sih, ci);
    } else {
      for (Cpu c : xc.machine.cpus()) {
        if (c != self) {
          sendIpi(sih, c);
        }
      }
      ipiHandler(sih, self);
    }
    Kern.kpreemptEnable();
    return where | Xcall.XC_PRI_BIT;
  }

  /** {@code xc_send_ipi(ci)}: the IPI, as a softint scheduled on {@code ci}. */
  private void sendIpi(Softint.Handle sih, Cpu ci) {
    xc.machine.softint().scheduleCpu(sih, ci);
  }

  /** {@code xc_ipi_handler}: schedule the xcall softint of the job's level here. */
  private void ipiHandler(Softint.Handle sih, Cpu self) {
    Kassert.kassert(sih != null, "xc_sihs[xc->xc_ipl] != NULL", Xcall.FILE, 355);
    xc.machine.softint().scheduleCpu(sih, self);
  }

  /** {@code xc__highpri_intr}: the softint handler. */
  private void highpriIntr() {
    XcState s = state;
    Kassert.kassertMsg(!Kern.cpuIntrP(), "!cpu_intr_p()", Xcall.FILE, 374,
        "high priority xcall for function %p", s.func);
    Kassert.kassert(s.donep < s.headp, "xc->xc_donep < xc->xc_headp", Xcall.FILE, 379);
    XcFunc func = s.func;
    Object arg1 = s.arg1;
    Object arg2 = s.arg2;
    Kassert.kassert(func != null, "func != NULL", Xcall.FILE, 384);
    Xcall.call(func, arg1, arg2, Lwp.current());
    s.lock.enter();
    if (++s.donep == s.headp) {
      s.busy.broadcast();
    }
    s.lock.exit();
  }
}
