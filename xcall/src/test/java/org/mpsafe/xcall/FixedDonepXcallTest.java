package org.mpsafe.xcall;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;

/**
 * {@link XcallContractTest} under {@link XcallAccounting#FIXED_DONEP} (the PR kern/51632 fix):
 * jobs never overlap, so {@code xc_wait(where)} returning means every callback of that job
 * returned, however many requesters there are.
 */
class FixedDonepXcallTest extends XcallContractTest {
  @Override
  XcallAccounting mode() {
    return XcallAccounting.FIXED_DONEP;
  }

  @Override
  void checkWaitReturns(Xcall xc, List<String> incompleteAtReturn) {
    assertEquals(List.of(), incompleteAtReturn, "xc_wait returned before its job finished");
    assertTrue(xc.detectorEnabled());
    assertEquals(0, xc.earlyReturns(), () -> xc.earlyReturnEvents().toString());
  }

  /** A held on CPU 1 keeps B out of xc_lowpri; A's xc_wait waits for A's own callback. */
  @Test
  void nextJobWaitsUntilEveryCallbackOfThePreviousReturned() {
    try (HeldJobScenario s = new HeldJobScenario().start()) {
      awaitK().until(() -> sleepingOn(s.b, "xclocv") && sleepingOn(s.a, "xclocv"));
      assertFalse(s.bRan.get(), "B admitted while A's callback was held");
      assertFalse(s.aReturned.get(), "A's xc_wait returned while its callback was held");
      assertEquals(1, s.xc.lowpriHeadp());
      assertEquals(0, s.xc.lowpriDonep());
      s.openAndFinish();
      assertTrue(s.aDoneAtReturn.get());
    }
  }

  /**
   * Two requesters, many rounds, a slow callback on one CPU per round: after xc_wait each
   * requester finds all of its own job's callbacks done (the bug needs exactly this: two
   * requesters).
   */
  @Test
  void xcWaitCoversItsOwnJobWithTwoRequesters() {
    int ncpu = 3;
    try (Machine m = boot(ncpu, true)) {
      List<String> early = new CopyOnWriteArrayList<>();
      AtomicInteger finished = new AtomicInteger();
      for (int r = 0; r < 2; r++) {
        int me = r;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          for (int round = 0; round < 300; round++) {
            int slow = (round + me) % ncpu;
            AtomicInteger done = new AtomicInteger();
            long w = Xcall.broadcast(0, (x, y) -> {
              if (Kern.curcpuIndex() == slow) {
                Kern.yield();
                Kern.preempt();
              }
              done.incrementAndGet();
            }, null, null);
            Xcall.waitFor(w);
            if (done.get() != ncpu) {
              early.add("requester " + me + " round " + round + ": " + done.get() + "/" + ncpu);
            }
          }
          finished.incrementAndGet();
        }, "requester-" + r);
      }
      awaitK().until(() -> finished.get() == 2 || !m.running());
      assertEquals(List.of(), early);
      assertEquals(0, Xcall.of(m).earlyReturns());
      assertCleanShutdown(m);
    }
  }
}
