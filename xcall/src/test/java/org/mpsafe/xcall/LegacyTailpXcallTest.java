package org.mpsafe.xcall;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link XcallContractTest} under {@link XcallAccounting#LEGACY_TAILP} (NetBSD 6/7,
 * {@code xc_tailp}). The contract holds as long as low-priority jobs do not overlap; what this
 * mode adds is asserted here: a job is admitted once every CPU has <em>started</em> the
 * previous one, and then the shared {@code xc_donep} releases the previous job's waiter early.
 */
class LegacyTailpXcallTest extends XcallContractTest {
  @Override
  XcallAccounting mode() {
    return XcallAccounting.LEGACY_TAILP;
  }

  /** Early returns are the bug this mode keeps; the stress run only needs to lose nothing. */
  @Override
  void checkWaitReturns(Xcall xc, List<String> incompleteAtReturn) {
    System.out.println("LEGACY_TAILP stress: " + incompleteAtReturn.size()
        + " xc_wait returns before the job's callbacks finished; detector saw "
        + xc.earlyReturns());
  }

  /**
   * A held on CPU 1: B (a unicast to CPU 0) is admitted because xc_headp == xc_tailp, runs, and
   * its completion raises xc_donep to A's ticket: A's xc_wait returns with A's callback still
   * held (PR kern/51632 with two unicasts, deterministically).
   */
  @Test
  void nextJobIsAdmittedWhenEveryCpuStartedAndReleasesThePreviousWaiter() {
    try (HeldJobScenario s = new HeldJobScenario().start()) {
      awaitK().until(() -> s.bRan.get() && s.aReturned.get());
      assertFalse(s.aDoneAtReturn.get(), "A's xc_wait waited for its callback");
      assertFalse(s.gate.isOpen());
      assertEquals(2, s.xc.lowpriHeadp());
      assertEquals(1, s.xc.lowpriDonep());
      assertEquals(1, s.xc.earlyReturns());
      EarlyReturn e = s.xc.earlyReturnEvents().get(0);
      assertEquals("requester-A", e.waiter(), e.describe());
      assertEquals(1, e.ticket());
      assertEquals(List.of(1), e.running(), e.describe());
      s.openAndFinish();
    }
  }
}
