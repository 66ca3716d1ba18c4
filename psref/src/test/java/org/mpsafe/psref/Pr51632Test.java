package org.mpsafe.psref;

import org.mpsafe.kern.KGate;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Pri;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;
import org.mpsafe.xcall.XcallHooks;

/**
 * PR kern/51632 at the psref level (also run with DIAGNOSTIC off, by the {@code nodiagnostic}
 * surefire execution): two targets of one class are destroyed in parallel while a
 * reference to the first is held on CPU 1, and CPU 1's xcall/1 is delayed right after it took
 * the first destroyer's job (as softnet preempting it at mutex_exit would). The first destroyer
 * is also delayed between xc_broadcast and xc_wait (preempted at xc_lowpri's mutex_exit).
 *
 * <p>Legacy: the second destroy is admitted, its completion on CPU 0 releases the first
 * destroyer's xc_wait, psreffed_p returns with nobody's answer from CPU 1, the target is marked
 * destroyed, the frame dies; then xcall/1 runs psreffed_p_xc on the dead frame and
 * _psref_held's class KASSERT fires with the PR's message. Fixed: the second destroy waits, the
 * first sees the held reference and keeps waiting until it is released.
 */
class Pr51632Test {
  private static final Duration LIMIT = Duration.ofSeconds(20);

  private static Machine boot(XcallAccounting mode, boolean waitSpin) {
    return Machine.boot(MachineConfig.of(2)
        .withOption(Xcall.OPTION_ACCOUNTING, mode)
        .withOption(Xcall.OPTION_WAIT_SPIN, waitSpin)
        .withOption(Xcall.OPTION_DETECTOR, true)
        .withOption(PsrefOptions.OPTION_FRAME_DETECTOR, true));
  }

  private static final class Scenario {
    final KGate callbackDelay = new KGate();
    final KGate waiterDelay = new KGate();
    final KGate holderGate = new KGate();
    final AtomicBoolean holderHolds = new AtomicBoolean();
    final AtomicBoolean d1Done = new AtomicBoolean();
    final AtomicBoolean d2Done = new AtomicBoolean();
    PsrefClass cls;
    final PsrefTarget t1 = new PsrefTarget("T1");
    final PsrefTarget t2 = new PsrefTarget("T2");
    Lwp d2;

    void start(Machine m) {
      Xcall xc = Xcall.of(m);
      cls = m.call("setup", () -> Psrefs.classCreate("testcls", Ipl.IPL_SOFTNET));
      m.run("init", () -> {
        Psrefs.targetInit(t1, cls);
        Psrefs.targetInit(t2, cls);
      });
      Cpu cpu1 = m.cpu(1);
      // H: bound to CPU 1, holds a reference to T1 and sleeps holding it.
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, cpu1, () -> {
        Psref ref = new Psref();
        Psrefs.acquire(ref, t1, cls);
        holderHolds.set(true);
        holderGate.pass();
        Psrefs.release(ref, t1, cls);
        holderHolds.set(false);
      }, "holder");
      await().atMost(LIMIT).until(() -> holderHolds.get() && holderGate.occupied());

      long firstTicket = m.ncpu();
      xc.setHooks(new XcallHooks() {
        @Override
        public void beforeCallback(Cpu ci, long job) {
          if (job == 1 && ci.index() == 1) {
            callbackDelay.pass();
          }
        }

        @Override
        public void beforeWait(long where) {
          if (where == firstTicket) {
            waiterDelay.pass();
          }
        }
      });
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Psrefs.targetDestroy(t1, cls);
        d1Done.set(true);
      }, "destroyer-1");
      await().atMost(LIMIT).until(() -> callbackDelay.occupied() && waiterDelay.occupied()
          && xc.lowpriDonep() == 1);
      d2 = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Psrefs.targetDestroy(t2, cls);
        d2Done.set(true);
      }, "destroyer-2");
    }

    void open(Machine m, KGate g) {
      m.run("opener", g::open);
    }

    /**
     * Opens {@code g} from a kthread, for an opening that lets the panic happen: the panic stops
     * the machine while the opener may still be on its way out (e.g. preempted at the gate's
     * mutex_exit by the xcall/1 it woke, when it ran on CPU 1), and a Machine.run opener would
     * then throw MachineStopped into the test thread.
     */
    void openLettingPanicHappen(Machine m, KGate g) {
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, g::open, "opener");
    }
  }

  /** With and without xc_wait's spin: NetBSD's xc_wait (checks once, then sleeps) is "false". */
  @ParameterizedTest(name = "xc_wait spin {0}")
  @ValueSource(booleans = {true, false})
  void legacyTailpFiresPsrefHeldClassAssertion(boolean waitSpin) throws InterruptedException {
    try (Machine m = boot(XcallAccounting.LEGACY_TAILP, waitSpin)) {
      Scenario s = new Scenario();
      s.start(m);
      Xcall xc = Xcall.of(m);
      // destroyer-2 was admitted and its job finished on CPU 0: xc_donep reached T1's ticket.
      await().atMost(LIMIT).until(() -> xc.lowpriDonep() == 2);
      s.open(m, s.waiterDelay);
      await().atMost(LIMIT).untilTrue(s.d1Done);
      assertNull(s.t1.prtClass(), "T1 destroyed while CPU 1 still held a reference");
      assertTrue(s.holderHolds.get());
      assertEquals(1, xc.earlyReturns());
      s.openLettingPanicHappen(m, s.callbackDelay);
      assertTrue(m.awaitStop(LIMIT));
      Panic p = m.panic().orElseThrow();
      System.out.println("Pr51632Test (psref, legacy) panic: " + p.headline() + " on cpu"
          + p.cpu() + " in " + p.lwp());
      // The same late callback on the same dead frame either way; DIAGNOSTIC only decides
      // whether _psref_held's KASSERT catches it before the load through P->class faults.
      assertEquals(Kassert.DIAGNOSTIC
          ? "kernel diagnostic assertion \"(target->prt_class == class)\" failed: "
              + "file \"sys/kern/subr_psref.c\", line 485 "
              + "mismatched psref target class: 0x0 (ref) != 0x2 (expected)"
          : "fatal page fault in supervisor mode: _psref_held loaded through class = 0x2, "
              + "which is not a mapped kernel address", p.message());
      assertEquals(1, p.cpu());
      assertEquals("xcall/1", p.lwp());
      assertEquals(1, Psrefs.useAfterReturnCount(m));
      UseAfterReturn u = Psrefs.useAfterReturnEvents(m).get(0);
      assertEquals("destroyer-1", u.frameOwner());
      assertEquals(1, u.cpu());
      assertEquals(2, u.ticket());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @ParameterizedTest(name = "xc_wait spin {0}")
  @ValueSource(booleans = {true, false})
  void fixedDonepDestroysWaitForTheHeldReference(boolean waitSpin) {
    try (Machine m = boot(XcallAccounting.FIXED_DONEP, waitSpin)) {
      Scenario s = new Scenario();
      s.start(m);
      await().atMost(LIMIT).until(() -> s.d2.state() == Lwp.State.SLEEP
          && "xclocv".equals(s.d2.wchan()));
      s.open(m, s.waiterDelay);
      s.open(m, s.callbackDelay);
      // T2 is not held: its destroy completes. T1 is held on CPU 1: its destroy must wait.
      await().atMost(LIMIT).untilTrue(s.d2Done);
      assertFalse(s.d1Done.get(), "T1's destroy returned while CPU 1 held a reference");
      assertTrue(s.t1.draining());
      s.open(m, s.holderGate);
      await().atMost(LIMIT).until(() -> s.d1Done.get() && !s.holderHolds.get());
      assertNull(s.t1.prtClass());
      assertNull(s.t2.prtClass());
      assertTrue(m.panic().isEmpty(), () -> m.panic().get().headline());
      assertEquals(0, Xcall.of(m).earlyReturns());
      assertEquals(0, Psrefs.useAfterReturnCount(m));
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
