package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The deterministic machine: one seed, one schedule. A scenario with real contention (a mutex,
 * a condvar, timed waits, softints posted across CPUs) run twice with the same seed gives the
 * same digest, the same order of events and the same virtual time; another seed another digest.
 * No verdict here depends on the host's speed: the machine runs only when the test lets it.
 */
class DeterministicMachineTest {

  /** What a run of {@link #scenario} gives: the schedule and what the LWPs saw. */
  record Run(Schedule schedule, List<String> order, int ticks) {}

  private static MachineConfig det(long seed, String strategy) {
    return MachineConfig.of(3).withWatchdog(Duration.ofSeconds(30)).withOption(
        Deterministic.OPTION, Deterministic.of(seed, Deterministic.Strategy.parse(strategy)));
  }

  /**
   * Three kthreads (two bound, one unbound) take turns in one mutex, append to a shared list and
   * now and then signal a condvar, post a softint to another CPU or kpause; a fourth waits on
   * the condvar with a timeout until they are done.
   */
  static Run scenario(long seed, String strategy) {
    try (Machine m = Machine.boot(det(seed, strategy))) {
      KMutex mtx = new KMutex("shared");
      KCondvar cv = new KCondvar("progress");
      List<String> order = new ArrayList<>();
      AtomicInteger done = new AtomicInteger();
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> {
        mtx.enter();
        order.add("softint@" + Kern.curcpuIndex());
        mtx.exit();
      }, "t");
      for (int w = 0; w < 3; w++) {
        int id = w;
        Cpu bind = w < 2 ? m.cpu(w) : null;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, bind, () -> {
          for (int i = 0; i < 40; i++) {
            mtx.enter();
            order.add("w" + id + ":" + i + "@" + Kern.curcpuIndex());
            if (i % 7 == 0) {
              cv.broadcast();
            }
            mtx.exit();
            if (i % 10 == 3) {
              m.softint().scheduleCpu(h, m.cpu((id + 1) % 3));
            }
            if (i % 13 == 5) {
              Kern.kpause("nap", 1);
            }
          }
          done.incrementAndGet();
          mtx.enter();
          cv.broadcast();
          mtx.exit();
        }, "w" + w);
      }
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        mtx.enter();
        while (done.get() < 3) {
          cv.timedwait(mtx, 2);
        }
        order.add("waiter saw all done at tick " + Kern.getticks());
        mtx.exit();
      }, "waiter");
      assertTrue(m.advanceUntil(() -> order.size() >= 120 + 1 && order.get(order.size() - 1)
          .startsWith("waiter"), Duration.ofSeconds(60)), () -> "not done: " + m.ps());
      assertTrue(m.running());
      Schedule s = m.schedule().orElseThrow();
      int ticks = m.getticks();
      assertEquals(List.of(), m.shutdown());
      return new Run(s, List.copyOf(order), ticks);
    }
  }

  @Test
  void sameSeedGivesTheSameScheduleAndOutcome() {
    Run a = scenario(7, "random");
    Run b = scenario(7, "random");
    assertEquals(a, b);
    assertEquals("deterministic", a.schedule().mode());
    assertEquals("random", a.schedule().strategy());
    assertEquals(7, a.schedule().seed());
    assertTrue(a.schedule().steps() > 100, a::toString);
    assertTrue(a.order().stream().anyMatch(s -> s.startsWith("softint@")), a::toString);
  }

  @Test
  void anotherSeedGivesAnotherSchedule() {
    Run a = scenario(7, "random");
    Run c = scenario(8, "random");
    assertNotEquals(a.schedule().digest(), c.schedule().digest());
  }

  @Test
  void pctIsDeterministicToo() {
    Run a = scenario(3, "pct:3");
    Run b = scenario(3, "pct:3");
    assertEquals(a, b);
    assertEquals("pct:3", a.schedule().strategy());
    assertNotEquals(a.schedule().digest(), scenario(4, "pct:3").schedule().digest());
  }

  /** kpause and getticks run on virtual time: a 5-second nap takes no wall time to speak of. */
  @Test
  void timedWaitsRunOnVirtualTime() {
    try (Machine m = Machine.boot(det(1, "random"))) {
      AtomicInteger woke = new AtomicInteger(-1);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Kern.kpause("long", 5 * m.hz());
        woke.set(Kern.getticks());
      }, "sleeper");
      assertTrue(m.advanceUntil(() -> woke.get() >= 0, Duration.ofSeconds(10)),
          () -> m.schedule() + " " + m.outcome() + " " + m.hang() + " " + m.ps());
      assertTrue(woke.get() >= 5 * m.hz(), "woke at tick " + woke.get());
      assertTrue(m.uptimeNanos() >= Duration.ofSeconds(5).toNanos());
      assertTrue(m.uptimeNanos() < Duration.ofSeconds(6).toNanos(), () -> "" + m.uptimeNanos());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** An idle machine lets virtual time pass to the host's deadline, then pauses. */
  @Test
  void anIdleMachineAdvancesToTheDeadline() {
    try (Machine m = Machine.boot(det(2, "random"))) {
      long t0 = m.uptimeNanos();
      assertTrue(m.advance(Duration.ofSeconds(3)));
      assertEquals(t0 + Duration.ofSeconds(3).toNanos(), m.uptimeNanos(), 100_000);
      assertTrue(m.getticks() >= 3 * m.hz());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** Two LWPs taking two mutexes in opposite orders deadlock; the machine says so, at once. */
  @Test
  void aDeadlockIsAHangReportNamingABlockedLwp() throws InterruptedException {
    for (long seed = 1; seed <= 5; seed++) {
      try (Machine m = Machine.boot(det(seed, "random"))) {
        KMutex a = new KMutex("a");
        KMutex b = new KMutex("b");
        KGate gate = new KGate();
        AtomicInteger holding = new AtomicInteger();
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
          a.enter();
          holding.incrementAndGet();
          gate.pass();
          b.enter();
        }, "ab");
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
          b.enter();
          holding.incrementAndGet();
          gate.pass();
          a.enter();
        }, "ba");
        assertTrue(m.advanceUntil(() -> holding.get() == 2, Duration.ofSeconds(1)));
        m.run("opener", gate::open);
        assertFalse(m.advance(Duration.ofSeconds(10)), "still running");
        assertEquals(Machine.Outcome.HANG, m.outcome());
        HangReport h = m.hang().orElseThrow();
        assertTrue(h.headline().startsWith("hang: deadlock: no LWP can run and no timer is "
            + "pending, "), h.headline());
        assertTrue(h.headline().matches(".*(ab|ba)\\(\\d+\\) SLEEP on (a|b) is blocked.*"),
            h.headline());
        assertEquals(List.of(), m.shutdown());
      }
    }
  }

  /** Only the thread that booted a deterministic machine may drive it or call into it. */
  @Test
  void anotherThreadCannotCallIn() throws Exception {
    try (Machine m = Machine.boot(det(1, "random"))) {
      List<Throwable> seen = new ArrayList<>();
      Thread t = new Thread(() -> {
        try {
          m.run("intruder", () -> { });
        } catch (Throwable e) {
          seen.add(e);
        }
      });
      t.start();
      t.join();
      assertEquals(1, seen.size());
      assertTrue(seen.get(0) instanceof IllegalStateException, seen::toString);
      assertTrue(seen.get(0).getMessage().contains("does not hold the baton"),
          seen.get(0)::getMessage);
      m.run("host", () -> { });
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void strategiesParseAndRejectBadText() {
    assertEquals("random", Deterministic.Strategy.parse("random").toString());
    assertEquals("pct:3", Deterministic.Strategy.parse("pct").toString());
    assertEquals("pct:5", Deterministic.Strategy.parse("pct:5").toString());
    assertEquals("bad strategy 'pct:0': the depth after pct: must be >= 1",
        assertThrows(IllegalArgumentException.class,
            () -> Deterministic.Strategy.parse("pct:0")).getMessage());
    assertEquals("bad strategy 'pct:x': the depth after pct: must be a whole number >= 1",
        assertThrows(IllegalArgumentException.class,
            () -> Deterministic.Strategy.parse("pct:x")).getMessage());
    assertEquals("bad strategy 'fifo': expected random, pct or pct:D (D >= 1)",
        assertThrows(IllegalArgumentException.class,
            () -> Deterministic.Strategy.parse("fifo")).getMessage());
  }
}
