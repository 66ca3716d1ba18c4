package org.mpsafe.xcall;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;

/**
 * PR kern/51632 at the xcall level on the deterministic machine, found by the seed rather than
 * scripted with gates: two requesters broadcast low-priority xcalls and wait for them, while a
 * device raises a softnet softint on a CPU chosen by its own seeded generator every 50 µs of
 * virtual time; the handler keeps its CPU for a few preemption points, so it can catch an
 * {@code xcall/N} thread at the {@code mutex_exit} between {@code xc_tailp++} and the callback.
 * Under LEGACY_TAILP seed {@value #SEED} makes an {@code xc_wait} return before its job's
 * callbacks finished (the early-return detector counts it); under FIXED_DONEP the same seed has
 * none. The run is a function of the seed: twice gives the same digest and count.
 */
class DeterministicPr51632Test {
  static final long SEED = 3;

  /** Digest, steps, early returns, callbacks run. */
  record Run(String digest, long steps, long earlyReturns, int callbacks) {}

  static Run run(XcallAccounting mode, long seed) {
    try (Machine m = Machine.boot(MachineConfig.of(3)
        .withOption(Xcall.OPTION_ACCOUNTING, mode)
        .withOption(Xcall.OPTION_DETECTOR, true)
        .withOption(Deterministic.OPTION,
            Deterministic.of(seed, Deterministic.Strategy.random())))) {
      Softint.Handle busy = m.softint().establish(Softint.SOFTINT_NET, () -> {
        for (int i = 0; i < 5; i++) {
          Kern.preempt();
        }
      }, "busy");
      SplittableRandom nic = new SplittableRandom(seed);
      m.attachDevice("nic", 50_000, now -> {
        m.softint().scheduleCpu(busy, m.cpu(nic.nextInt(3)));
        return now + 50_000;
      });
      AtomicInteger callbacks = new AtomicInteger();
      AtomicInteger done = new AtomicInteger();
      for (int r = 0; r < 2; r++) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          for (int i = 0; i < 100; i++) {
            long where = Xcall.broadcast(0, (a, b) -> {
              callbacks.incrementAndGet();
              Kern.preempt();
            }, null, null);
            Xcall.waitFor(where);
          }
          done.incrementAndGet();
        }, "requester/" + r);
      }
      assertTrue(m.advanceUntil(() -> done.get() == 2, Duration.ofSeconds(60)),
          () -> String.join("\n", m.ps()));
      Run run = new Run(m.schedule().orElseThrow().digest(), m.schedule().orElseThrow().steps(),
          Xcall.of(m).earlyReturns(), callbacks.get());
      assertEquals(List.of(), m.shutdown());
      return run;
    }
  }

  @Test
  void legacyReturnsEarlyAtTheNamedSeedEveryTime() {
    Run a = run(XcallAccounting.LEGACY_TAILP, SEED);
    assertTrue(a.earlyReturns() >= 1, a::toString);
    assertEquals(a, run(XcallAccounting.LEGACY_TAILP, SEED));
  }

  @Test
  void fixedNeverReturnsEarlyAtTheSameSeed() {
    Run a = run(XcallAccounting.FIXED_DONEP, SEED);
    assertEquals(0, a.earlyReturns(), a::toString);
    assertEquals(2 * 100 * 3, a.callbacks());
    assertNotEquals(a.digest(), run(XcallAccounting.FIXED_DONEP, SEED + 1).digest());
  }
}
