package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.mpsafe.xcall.Xcall;

/**
 * The lock-free lookup ({@link RtLookup#PSERIALIZE}) under the PR's load on the deterministic
 * machine: forwarding on every CPU reads the table without {@code rt_lock} while two LWPs add
 * and delete addresses (their routes deleted and drained), and nothing trips: no psref acquired
 * on a draining target (the pserialize barrier before the drain), no reference lost, no hang.
 * The same seeds with {@link RtLookup#RWLOCK} are the control.
 *
 * <p>The deterministic machine has no scheduling point inside a read section, so it cannot put
 * another CPU's drain between a reader's lookup and its acquire, the case the barrier exists
 * for. What is checked instead: every drained route was preceded by a barrier that began after
 * its unpublish (RtFree R1, a KASSERT in rt_free: a panic here), the rt_free thread shares
 * barriers between the routes of a run (fewer barriers than drains: the two routes of an
 * address purge, and the other churn LWP's, often go together), and each barrier was a
 * high-priority xcall.
 */
class LockFreeLookupTest {
  record Outcome(String outcome, String panic, long forwarded, long rtDestroys, long churn,
      long highpri, long rtFreeBarriers) {}

  static Outcome run(RtLookup lookup, long seed) {
    return NetFixture.runDeterministic(4, seed, Duration.ofSeconds(2), c -> c,
        (m, net, f) -> new Outcome(m.outcome().name(), NetFixture.panicLine(m),
            net.ipstat().forwarded(), net.rt().destroys(), f.churnCycles(),
            Xcall.of(m).highpriCount(), net.rt().rtFreeBarriers()),
        RtLookup.OPTION, lookup);
  }

  @Test
  void forwardingWithoutRtLockRunsCleanWhileRoutesAreDeletedAndDrained() {
    for (long seed = 1; seed <= 3; seed++) {
      Outcome o = run(RtLookup.PSERIALIZE, seed);
      String ctx = "seed " + seed + ": " + o;
      assertEquals("RUNNING", o.outcome(), ctx);
      assertNull(o.panic(), ctx);
      assertTrue(o.forwarded() > 0 && o.rtDestroys() > 0 && o.churn() > 0, ctx);
      // Batched: fewer pserialize barriers than route drains, each a high-priority xcall.
      assertTrue(o.rtFreeBarriers() > 0 && o.rtFreeBarriers() < o.rtDestroys(), ctx);
      assertTrue(o.highpri() >= o.rtFreeBarriers(), ctx);
      Outcome control = run(RtLookup.RWLOCK, seed);
      assertEquals("RUNNING", control.outcome(), "control " + control);
    }
  }
}
