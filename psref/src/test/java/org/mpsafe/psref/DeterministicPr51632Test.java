package org.mpsafe.psref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.psref.PsrefStressTest.Drain;
import org.mpsafe.xcall.XcallAccounting;

/**
 * PR kern/51632 at the psref level on the deterministic machine: the psref stress workload
 * (bound, softint and kpreempt_disable users, two destroyers in parallel, pserialize) with the
 * 2016 low-priority drain. Under LEGACY_TAILP seed 8 makes psref_target_destroy's xc_wait
 * return before every CPU answered (the detector counts each; the frame psreffed_p left behind
 * is what the late callback reads — the panic itself needs the net-route load, see net-route's
 * DeterministicPr51632Test); under FIXED_DONEP the same seed has none and no violation. Both
 * are functions of the seed: the same run twice gives the same digest and counts.
 */
class DeterministicPr51632Test {
  private static final long SEED = 8;

  private static String run(XcallAccounting accounting) {
    return PsrefStressTest.stress(Drain.LOWPRI_FIXED_DONEP, SEED,
        Deterministic.of(SEED, Deterministic.Strategy.random()), "det seed " + SEED, accounting);
  }

  private static long earlyReturns(String result) {
    return Long.parseLong(result.substring(result.lastIndexOf(' ') + 1));
  }

  @Test
  void legacyDrainReturnsEarlyAtTheNamedSeedEveryTime() {
    String a = run(XcallAccounting.LEGACY_TAILP);
    assertTrue(earlyReturns(a) >= 1, a);
    assertEquals(a, run(XcallAccounting.LEGACY_TAILP));
  }

  @Test
  void fixedDrainNeverReturnsEarlyAtTheSameSeed() {
    String a = run(XcallAccounting.FIXED_DONEP);
    assertEquals(0, earlyReturns(a), a);
  }
}
