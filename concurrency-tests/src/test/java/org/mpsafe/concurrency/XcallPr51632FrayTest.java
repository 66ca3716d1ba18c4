package org.mpsafe.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mpsafe.concurrency.FrayExplorer.Outcome;
import org.mpsafe.xcall.XcallAccounting;

/** {@link XcallTwoRequesters} under Fray: legacy accounting fails, the PR's fix never does. */
class XcallPr51632FrayTest {
  static final int LEGACY_BUDGET = 1000;
  static final int FIXED_ITERATIONS = 300;

  static void warmup() {
    XcallTwoRequesters.run(XcallAccounting.FIXED_DONEP);
  }

  @Test
  void legacyTailpXcWaitReturnsBeforeItsCallbackFinished() {
    Outcome o = FrayExplorer.explore("xcall-legacy", FrayExplorer.seed(), LEGACY_BUDGET,
        XcallPr51632FrayTest::warmup,
        () -> XcallTwoRequesters.run(XcallAccounting.LEGACY_TAILP));
    assertNotNull(o.failure(), () -> "Fray found no early return in " + o.iterations()
        + " schedules of the legacy accounting");
    String all = FrayExplorer.allMessages(o.failure());
    assertTrue(all.contains(XcallTwoRequesters.EARLY), all);
  }

  @Test
  void fixedDonepXcWaitNeverReturnsEarly() {
    Outcome o = FrayExplorer.explore("xcall-fixed", FrayExplorer.seed(), FIXED_ITERATIONS,
        XcallPr51632FrayTest::warmup,
        () -> XcallTwoRequesters.run(XcallAccounting.FIXED_DONEP));
    assertNull(o.failure(), () -> FrayExplorer.allMessages(o.failure()));
    assertEquals(FIXED_ITERATIONS, o.iterations());
  }
}
