package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Schedule;
import org.mpsafe.psref.PsrefOptions;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;

/**
 * PR kern/51632 on the deterministic machine: forwarding plus address churn, every scheduling
 * choice drawn from the seed. A named seed panics with the PR's exact KASSERT under the legacy
 * accounting, every time, and the same seed runs clean with the fix; one CPU never panics. No
 * retries and no timeout decide anything: the run is a function of its seed, bounded in virtual
 * time.
 */
class DeterministicPr51632Test {
  /** Panics after about 4,000 scheduling steps (40 ms of virtual time) under LEGACY_TAILP. */
  private static final long SEED = 13;
  private static final String PR_PANIC =
      "kernel diagnostic assertion \"(target->prt_class == class)\" failed: "
          + "file \"sys/kern/subr_psref.c\", line 485 "
          + "mismatched psref target class: 0x0 (ref) != 0x2 (expected)";

  /** What a run gave: its schedule's digest and steps, the outcome, the panic and its place. */
  record Outcome(String digest, long steps, long virtualNanos, String outcome, String panic,
      long churnCycles, long earlyReturns, long deadFrameReads) {}

  static Outcome run(XcallAccounting mode, int cpus, long seed, Duration virtual) {
    return NetFixture.runDeterministic(cpus, seed, virtual, UnaryOperator.identity(),
        (m, net, f) -> {
          Schedule s = m.schedule().orElseThrow();
          return new Outcome(s.digest(), s.steps(), s.virtualNanos(), m.outcome().name(),
              NetFixture.panicLine(m), f.churnCycles(), Xcall.of(m).earlyReturns(),
              Psrefs.useAfterReturnCount(m));
        },
        Xcall.OPTION_ACCOUNTING, mode, Xcall.OPTION_DETECTOR, true,
        PsrefOptions.OPTION_FRAME_DETECTOR, true);
  }

  @Test
  void legacyPanicsWithThePrsKassertAtTheSameStepEveryTime() {
    Outcome a = run(XcallAccounting.LEGACY_TAILP, 4, SEED, Duration.ofSeconds(30));
    assertEquals("PANIC", a.outcome(), a::toString);
    assertTrue(a.panic().matches(Pattern.quote(PR_PANIC)
        + " on cpu\\d in xcall/\\d"), a.panic());
    assertTrue(a.earlyReturns() >= 1 && a.deadFrameReads() >= 1, a::toString);
    assertEquals(a, run(XcallAccounting.LEGACY_TAILP, 4, SEED, Duration.ofSeconds(30)));
  }

  @Test
  void theFixRunsTheSameSeedClean() {
    Outcome a = run(XcallAccounting.FIXED_DONEP, 4, SEED, Duration.ofSeconds(3));
    assertEquals("RUNNING", a.outcome(), a::toString);
    assertEquals(0, a.earlyReturns());
    assertEquals(0, a.deadFrameReads());
    assertTrue(a.churnCycles() >= 300, a::toString);
    // advance(3 s) starts after the setup's own virtual time (boot, ifconfig): a few ms.
    assertTrue(a.virtualNanos() >= 3_000_000_000L && a.virtualNanos() < 3_010_000_000L,
        a::toString);
  }

  /** One CPU cannot run two jobs' callbacks at once: no early return, no panic. */
  @Test
  void legacyOnOneCpuNeverPanics() {
    Outcome a = run(XcallAccounting.LEGACY_TAILP, 1, SEED, Duration.ofSeconds(3));
    assertEquals("RUNNING", a.outcome(), a::toString);
    assertEquals(0, a.earlyReturns());
    assertTrue(a.churnCycles() >= 100, a::toString);
  }

  @Test
  void anotherSeedIsAnotherSchedule() {
    Outcome a = run(XcallAccounting.FIXED_DONEP, 4, SEED, Duration.ofMillis(200));
    Outcome b = run(XcallAccounting.FIXED_DONEP, 4, SEED + 1, Duration.ofMillis(200));
    assertNotEquals(a.digest(), b.digest());
    assertEquals(a, run(XcallAccounting.FIXED_DONEP, 4, SEED, Duration.ofMillis(200)));
  }
}
