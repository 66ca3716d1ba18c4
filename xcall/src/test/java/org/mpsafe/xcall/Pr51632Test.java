package org.mpsafe.xcall;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mpsafe.kern.KGate;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;

/**
 * PR kern/51632 at the xcall level: two requesters broadcast in parallel while job A's callback
 * is held back on CPU 1 (blocked on a gate the test opens), and requester A is delayed between
 * xc_broadcast and xc_wait (as a requester preempted at xc_lowpri's mutex_exit is). Legacy
 * accounting lets job B in as soon as every CPU has *started* A, and B's completion on CPU 0
 * raises the shared xc_donep to A's ticket: A's xc_wait then returns on its fast path while A's
 * callback still runs on CPU 1. Fixed accounting keeps B out until A's callbacks returned, so
 * A's xc_wait waits for the gate.
 *
 * <p>Why A must come late to xc_wait: a waiter already asleep on xc_busy is woken only when an
 * xcall thread finds headp == tailp, which cannot happen while CPU 1 still owes job B; so the
 * early return goes through the unlocked fast path, exactly as in the stress repro.
 */
class Pr51632Test {
  private static final Duration LIMIT = Duration.ofSeconds(20);

  private static Machine boot(XcallAccounting mode, boolean waitSpin) {
    Machine m = Machine.boot(MachineConfig.of(2)
        .withOption(Xcall.OPTION_ACCOUNTING, mode)
        .withOption(Xcall.OPTION_WAIT_SPIN, waitSpin)
        .withOption(Xcall.OPTION_DETECTOR, true));
    assertEquals(waitSpin, Xcall.of(m).waitSpin());
    return m;
  }

  private static final class Run {
    final KGate gate = new KGate();
    final KGate beforeWait = new KGate();
    final AtomicBoolean aCallbackOnCpu1Done = new AtomicBoolean();
    final AtomicBoolean aReturned = new AtomicBoolean();
    final AtomicBoolean aReturnedBeforeCallback = new AtomicBoolean();
    final AtomicBoolean bReturned = new AtomicBoolean();
    Lwp a;
    Lwp b;

    void start(Machine m) {
      XcFunc holdOnCpu1 = (x, y) -> {
        if (Kern.curcpuIndex() == 1) {
          gate.pass();
          aCallbackOnCpu1Done.set(true);
        }
      };
      a = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        long where = Xcall.broadcast(0, holdOnCpu1, null, null);
        beforeWait.pass();
        Xcall.waitFor(where);
        aReturnedBeforeCallback.set(!aCallbackOnCpu1Done.get());
        aReturned.set(true);
      }, "requester-A");
      await().atMost(LIMIT).until(() -> gate.occupied() && beforeWait.occupied());
      b = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Xcall.waitFor(Xcall.broadcast(0, (x, y) -> { }, null, null));
        bReturned.set(true);
      }, "requester-B");
    }
  }

  /** With and without xc_wait's spin: NetBSD's xc_wait (checks once, then sleeps) is "false". */
  @ParameterizedTest(name = "xc_wait spin {0}")
  @ValueSource(booleans = {true, false})
  void legacyTailpLetsXcWaitReturnWhileItsCallbackStillRuns(boolean waitSpin) {
    try (Machine m = boot(XcallAccounting.LEGACY_TAILP, waitSpin)) {
      Run r = new Run();
      r.start(m);
      Xcall xc = Xcall.of(m);
      // B was admitted after both CPUs *started* A, and CPU 0 finished A and B: donep = 2.
      await().atMost(LIMIT).until(() -> xc.lowpriDonep() == 2 && xc.lowpriHeadp() == 4);
      m.run("opener", r.beforeWait::open);
      await().atMost(LIMIT).untilTrue(r.aReturned);
      assertTrue(r.aReturnedBeforeCallback.get(), "A's xc_wait returned after its callback");
      assertFalse(r.gate.isOpen());
      assertEquals(1, xc.earlyReturns());
      EarlyReturn e = xc.earlyReturnEvents().get(0);
      assertEquals(List.of(1), e.running(), e.describe());
      assertEquals("requester-A", e.waiter());
      m.run("opener", r.gate::open);
      await().atMost(LIMIT).until(() -> r.bReturned.get() && r.aCallbackOnCpu1Done.get());
      assertTrue(m.panic().isEmpty());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @ParameterizedTest(name = "xc_wait spin {0}")
  @ValueSource(booleans = {true, false})
  void fixedDonepKeepsXcWaitUntilEveryCallbackReturned(boolean waitSpin) {
    try (Machine m = boot(XcallAccounting.FIXED_DONEP, waitSpin)) {
      Run r = new Run();
      r.start(m);
      // B sleeps in xc_lowpri's admission while A's callback sits at the gate; then A goes on
      // to xc_wait and must sleep there too.
      await().atMost(LIMIT).until(() -> sleepingOn(r.b, "xclocv"));
      assertEquals(1, Xcall.of(m).lowpriDonep());
      m.run("opener", r.beforeWait::open);
      await().atMost(LIMIT).until(() -> sleepingOn(r.a, "xclocv"));
      assertFalse(r.aReturned.get(), "A's xc_wait returned while its callback was held");
      assertFalse(r.bReturned.get(), "B was admitted while A's callback was held");
      m.run("opener", r.gate::open);
      await().atMost(LIMIT).until(() -> r.aReturned.get() && r.bReturned.get());
      assertFalse(r.aReturnedBeforeCallback.get());
      assertEquals(0, Xcall.of(m).earlyReturns());
      assertTrue(m.panic().isEmpty());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  private static boolean sleepingOn(Lwp l, String wchan) {
    return l.state() == Lwp.State.SLEEP && wchan.equals(l.wchan());
  }
}
