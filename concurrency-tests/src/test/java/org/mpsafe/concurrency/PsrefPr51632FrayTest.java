package org.mpsafe.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mpsafe.concurrency.FrayExplorer.Outcome;
import org.mpsafe.xcall.XcallAccounting;

/**
 * {@link PsrefParallelDestroy} under Fray: with the legacy xcall accounting a parallel destroy
 * panics with the PR's KASSERT; with the fix every destroy waits for the held reference.
 */
class PsrefPr51632FrayTest {
  static final int LEGACY_BUDGET = 1000;
  static final int FIXED_ITERATIONS = 200;

  static void warmup() {
    PsrefParallelDestroy.run(XcallAccounting.FIXED_DONEP, true);
  }

  @Test
  void legacyTailpParallelDestroyPanicsMismatchedPsrefTargetClass() {
    Outcome o = FrayExplorer.explore("psref-legacy", FrayExplorer.seed(), LEGACY_BUDGET,
        PsrefPr51632FrayTest::warmup,
        () -> PsrefParallelDestroy.run(XcallAccounting.LEGACY_TAILP, false));
    assertNotNull(o.failure(), () -> "Fray found no failing schedule in " + o.iterations()
        + " schedules of the legacy accounting");
    String all = FrayExplorer.allMessages(o.failure());
    // The destroyed T1 (prt_class NULL) meets a class check: either the late drain callback's
    // _psref_held (line 485, reading the dead frame: the PR's "!= 0x2"), or the holder's
    // psref_release (line 268) when T1 was destroyed under its reference before that.
    assertTrue(all.contains("panic: kernel diagnostic assertion \"(target->prt_class == class)\""
        + " failed: file \"sys/kern/subr_psref.c\", line "), all);
    assertTrue(all.contains(PsrefParallelDestroy.MISMATCH + ": 0x0 (ref) != "), all);
  }

  @Test
  void fixedDonepParallelDestroysWaitForTheHeldReference() {
    Outcome o = FrayExplorer.explore("psref-fixed", FrayExplorer.seed(), FIXED_ITERATIONS,
        PsrefPr51632FrayTest::warmup,
        () -> PsrefParallelDestroy.run(XcallAccounting.FIXED_DONEP, true));
    assertNull(o.failure(), () -> FrayExplorer.allMessages(o.failure()));
    assertEquals(FIXED_ITERATIONS, o.iterations());
  }
}
