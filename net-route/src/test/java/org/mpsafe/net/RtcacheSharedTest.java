package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Schedule;
import org.mpsafe.psref.PsrefOptions;

/**
 * The rtcache-shared catalog entry on the deterministic machine: forwarding on every CPU plus
 * address churn, with {@code ip_forward} using one {@code struct route ipforward_rt} for all
 * CPUs (ip_input.c 1.324 with route.c 1.207's psref rtcache) or one per CPU
 * ({@code ipforward_rt_percpu}, ip_input.c 1.383). Both variants run with psref's DEBUG checks
 * and {@code l_psrefs} counting, so the fix is checked as hard as the bug. See
 * docs/races/rtcache-shared.md.
 */
class RtcacheSharedTest {
  /** The shared cache's second psref_acquire overwrites the first's lwp: panics at step 82. */
  private static final long SEED = 2;
  /** Here the second CPU's packet took another route: the target check, a line earlier. */
  private static final long SEED_OTHER_ROUTE = 1;
  /** psref_release's KASSERTs as regular expressions (the addresses vary with the run). */
  private static final String LWP_PANIC =
      "kernel diagnostic assertion \"\\(psref->psref_lwp == curlwp\\)\" failed: "
          + "file \"sys/kern/subr_psref\\.c\", line 276 "
          + "passive reference transferred from lwp 0x[0-9a-f]+ to lwp 0x[0-9a-f]+";
  private static final String TARGET_PANIC =
      "kernel diagnostic assertion \"\\(psref->psref_target == target\\)\" failed: "
          + "file \"sys/kern/subr_psref\\.c\", line 273 "
          + "passive reference target mismatch: 0x[0-9a-f]+ \\(ref\\) != 0x[0-9a-f]+ "
          + "\\(expected\\)";

  /** What a run gave: its schedule, the outcome, the panic and its place, the work done. */
  record Outcome(String digest, long steps, String outcome, String panic, long forwarded,
      long churnCycles) {}

  static Outcome run(IpforwardRtcache mode, int cpus, long seed, Duration virtual) {
    return NetFixture.runDeterministic(cpus, seed, virtual, UnaryOperator.identity(),
        (m, net, f) -> {
          Schedule s = m.schedule().orElseThrow();
          return new Outcome(s.digest(), s.steps(), m.outcome().name(), NetFixture.panicLine(m),
              net.ipstat().forwarded(), f.churnCycles());
        },
        IpforwardRtcache.OPTION, mode, PsrefOptions.OPTION_DEBUG, true,
        PsrefOptions.OPTION_LWP_COUNT, true);
  }

  @Test
  void sharedPanicsWhenTheSecondCpusSoftintTakesTheSamePsrefAtTheSameStepEveryTime() {
    Outcome a = run(IpforwardRtcache.SHARED, 4, SEED, Duration.ofSeconds(2));
    assertEquals("PANIC", a.outcome(), a::toString);
    assertTrue(a.panic().matches(LWP_PANIC + " on cpu\\d in softnet/\\d"), a.panic());
    assertEquals(a, run(IpforwardRtcache.SHARED, 4, SEED, Duration.ofSeconds(2)));
  }

  @Test
  void sharedWithTwoRoutesFailsTheTargetCheckFirst() {
    Outcome a = run(IpforwardRtcache.SHARED, 4, SEED_OTHER_ROUTE, Duration.ofSeconds(2));
    assertEquals("PANIC", a.outcome(), a::toString);
    assertTrue(a.panic().matches(TARGET_PANIC + " on cpu\\d in softnet/\\d"), a.panic());
  }

  @Test
  void perCpuRunsTheSameSeedsClean() {
    for (long seed : new long[] {SEED, SEED_OTHER_ROUTE}) {
      Outcome a = run(IpforwardRtcache.PERCPU, 4, seed, Duration.ofSeconds(2));
      assertEquals("RUNNING", a.outcome(), a::toString);
      assertTrue(a.forwarded() >= 5_000 && a.churnCycles() >= 200, a::toString);
    }
  }

  /** One CPU has one ipintr softint: nobody else can take the shared psref. */
  @Test
  void sharedOnOneCpuNeverPanics() {
    Outcome a = run(IpforwardRtcache.SHARED, 1, SEED, Duration.ofSeconds(2));
    assertEquals("RUNNING", a.outcome(), a::toString);
    assertTrue(a.forwarded() >= 1_000, a::toString);
  }
}
