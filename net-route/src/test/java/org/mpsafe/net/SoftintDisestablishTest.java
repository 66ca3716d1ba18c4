package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Schedule;
import org.mpsafe.kern.Softint;

/**
 * softint_disestablish under interface detach churn on the deterministic machine
 * (docs/races/softint-disestablish.md): forwarding, address churn and two LWPs attaching and
 * detaching if_percpuq interfaces, the stack without NET_MPSAFE (ipintr under softnet_lock).
 * kern_softint.c 1.41's wait lets a pending if_percpuq_softint run after its if_percpuq was
 * freed; the fix's wait runs the same seed clean.
 */
class SoftintDisestablishTest {
  /** Panics after about 13,500 scheduling steps under Disestablish.ACTIVE. */
  private static final long SEED = 1;
  private static final Pattern LATE = Pattern.compile(Pattern.quote("use after free: ")
      + "softint_execute on cpu(\\d): softint if_percpuq_softint \\(arg if_percpuq vio\\d+\\) "
      + Pattern.quote("was disestablished while pending here: sh_func == NULL (trap type 6, "
      + "call through NULL)") + " on cpu\\1 in softnet/\\1");

  record Outcome(String digest, long steps, String outcome, String panic, long detachCycles,
      long churnErrors) {}

  static Outcome run(Softint.Disestablish mode, long seed, Duration virtual) {
    return NetFixture.runDeterministic(4, seed, virtual, c -> c.withDetachLwps(2),
        (m, net, f) -> {
          Schedule s = m.schedule().orElseThrow();
          return new Outcome(s.digest(), s.steps(), m.outcome().name(), NetFixture.panicLine(m),
              net.detaches(), f.churnErrors());
        },
        Softint.OPTION_DISESTABLISH, mode, SoftnetLock.OPTION, SoftnetLock.IPINTR);
  }

  @Test
  void activeOnlyWaitRunsThePendingHandlerAfterTheFreeAtTheSameStepEveryTime() {
    Outcome a = run(Softint.Disestablish.ACTIVE, SEED, Duration.ofSeconds(10));
    assertEquals("PANIC", a.outcome(), a::toString);
    assertTrue(LATE.matcher(a.panic()).matches(), a.panic());
    assertTrue(a.detachCycles() >= 1, a::toString);
    assertEquals(a, run(Softint.Disestablish.ACTIVE, SEED, Duration.ofSeconds(10)));
  }

  @Test
  void theFixRunsTheSameSeedClean() {
    Outcome a = run(Softint.Disestablish.PENDING, SEED, Duration.ofSeconds(3));
    assertEquals("RUNNING", a.outcome(), a::toString);
    assertTrue(a.detachCycles() >= 15, a::toString);
    assertEquals(0, a.churnErrors(), a::toString);
  }
}
