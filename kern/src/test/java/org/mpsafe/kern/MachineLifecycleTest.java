package org.mpsafe.kern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.TIMEOUT;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Boot, run, panic, shutdown: no thread is left behind, and nothing runs after a stop. */
class MachineLifecycleTest {

  /**
   * Starts LWPs in every state a stop must end: sleeping on a cv, in kpause, spinning through
   * preemption points, waiting for a busy CPU, and the idle softint LWPs.
   */
  private static List<Lwp> populate(Machine m) {
    KMutex mtx = new KMutex("pop");
    KCondvar cv = new KCondvar("forever");
    AtomicBoolean hogging = new AtomicBoolean();
    List<Lwp> l = new ArrayList<>();
    l.add(m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
      mtx.enter();
      cv.await(mtx);
    }, "sleeper"));
    l.add(m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> Kern.kpause("nap", 60 * Kern.hz()),
        "napper"));
    l.add(m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
      hogging.set(true);
      for (;;) {
        Kern.preempt();
      }
    }, "hog"));
    await().atMost(TIMEOUT).until(hogging::get);
    l.add(m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> { }, "queued"));
    await().atMost(TIMEOUT).until(() -> l.get(0).state() == Lwp.State.SLEEP
        && l.get(1).state() == Lwp.State.SLEEP && l.get(3).state() == Lwp.State.RUNNABLE);
    return l;
  }

  private static Set<Thread> lwpThreads(Machine m) {
    Set<Thread> t = new HashSet<>();
    for (Lwp l : m.lwps()) {
      t.add(l.thread);
    }
    return t;
  }

  /** Every LWP ended: ZOMBIE, its thread dead and gone from the JVM's thread list. */
  private static void assertNothingLeft(Machine m, Set<Thread> threads) {
    for (Lwp l : m.lwps()) {
      assertEquals(Lwp.State.ZOMBIE, l.state(), l.name());
    }
    Set<Thread> live = Thread.getAllStackTraces().keySet();
    for (Thread t : threads) {
      assertFalse(t.isAlive(), t.getName());
      assertFalse(live.contains(t), t.getName());
    }
  }

  @Test
  void shutdownStopsAndJoinsEveryLwp() throws InterruptedException {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      assertEquals(Machine.Outcome.RUNNING, m.outcome());
      populate(m);
      Set<Thread> threads = lwpThreads(m);
      assertEquals(2 * 4 + 4, threads.size(), "4 softint LWPs per CPU and ours");
      AtomicInteger stopCalls = new AtomicInteger();
      m.onStop(stopCalls::incrementAndGet);
      assertCleanShutdown(m);
      assertTrue(m.awaitStop(Duration.ZERO));
      assertEquals(1, stopCalls.get());
      m.onStop(stopCalls::incrementAndGet); // after the stop: runs at once
      assertEquals(2, stopCalls.get());
      assertNothingLeft(m, threads);
      assertEquals(List.of(), m.shutdown(), "shutdown is idempotent");
    }
  }

  @Test
  void shutdownAfterPanicLeavesNoThread() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      populate(m);
      Set<Thread> threads = lwpThreads(m);
      assertThrows(KernelPanic.class, () -> m.run("panicker", () -> Kassert.panic("bye")));
      assertEquals(Machine.Outcome.PANIC, m.outcome());
      assertEquals(List.of(), m.shutdown());
      assertEquals(Machine.Outcome.PANIC, m.outcome(), "shutdown keeps the panic outcome");
      assertNothingLeft(m, threads);
    }
  }

  @Test
  void shutdownAfterKthreadThrewLeavesNoThread() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      populate(m);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        throw new IllegalArgumentException("bad");
      }, "thrower");
      Set<Thread> threads = lwpThreads(m);
      await().atMost(TIMEOUT).until(() -> m.panic().isPresent());
      assertEquals("kthread thrower: uncaught java.lang.IllegalArgumentException: bad",
          m.panic().get().message());
      assertEquals(List.of(), m.shutdown());
      assertNothingLeft(m, threads);
    }
  }

  /**
   * After a panic, an LWP that was between preemption points at the time reaches its next one
   * and unwinds, even when another LWP gives its CPU up after the panic (which recomputes the
   * scheduler's wanted priorities) before that.
   */
  @Test
  void noLwpRunsKernelCodeAfterPanic() {
    try (Machine m = Machine.boot(MachineConfig.of(3))) {
      AtomicBoolean spinGo = new AtomicBoolean();
      AtomicBoolean lateGo = new AtomicBoolean();
      AtomicLong counter = new AtomicLong();
      AtomicBoolean lateReturned = new AtomicBoolean();
      Lwp spinner = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        while (!spinGo.get()) {
          Thread.onSpinWait(); // between preemption points when the panic happens
        }
        for (;;) {
          counter.incrementAndGet();
          Kern.preempt();
        }
      }, "spinner");
      Lwp late = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        while (!lateGo.get()) {
          Thread.onSpinWait();
        }
        Kern.kpause("late", 1); // gives cpu1 up after the panic
        lateReturned.set(true);
      }, "late");
      await().atMost(TIMEOUT).until(() -> spinner.state() == Lwp.State.ONPROC
          && late.state() == Lwp.State.ONPROC);
      assertThrows(KernelPanic.class, () -> m.run("panicker", () -> Kassert.panic("stop")));
      lateGo.set(true);
      await().atMost(TIMEOUT).until(() -> late.state() == Lwp.State.ZOMBIE);
      spinGo.set(true);
      await().atMost(TIMEOUT).until(() -> spinner.state() == Lwp.State.ZOMBIE);
      assertFalse(lateReturned.get());
      assertEquals(1, counter.get(), "the spinner ran past its first preemption point");
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void kthreadCreateChecksItsArgumentsAndRefusesAfterStop() {
    try (Machine m = Machine.boot(MachineConfig.of(1));
        Machine other = Machine.boot(MachineConfig.of(1))) {
      assertThrows(IllegalArgumentException.class,
          () -> m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, null, "x"));
      assertThrows(IllegalArgumentException.class,
          () -> m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> { }, null));
      assertThrows(IllegalArgumentException.class,
          () -> m.kthreadCreate(Pri.PRI_KTHREAD, 0, other.cpu(0), () -> { }, "x"));
      assertCleanShutdown(m);
      assertThrows(MachineStopped.class,
          () -> m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> { }, "x"));
      assertThrows(MachineStopped.class, () -> m.run("x", () -> { }));
      assertCleanShutdown(other);
    }
  }

  /**
   * run/call adopt the host thread as an unbound LWP for the call; an exception from the body
   * is rethrown and gives the CPU back (the 1-CPU machine keeps working); nesting is misuse.
   */
  @Test
  void runAdoptsTheHostThreadForTheCall() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      assertThrows(IllegalStateException.class, Kern::curlwp);
      String r = m.call("adopted", () -> Kern.curlwp().name() + " " + Kern.curlwp().isBound()
          + " " + Kern.curcpu().name() + " " + (Kern.curcpu().curlwp() == Kern.curlwp()));
      assertEquals("adopted false cpu0 true", r);
      assertThrows(UnsupportedOperationException.class, () -> m.run("thrower", () -> {
        throw new UnsupportedOperationException("x");
      }));
      assertTrue(m.running());
      assertThrows(IllegalStateException.class, () -> m.run("outer", () -> m.run("inner",
          () -> { })));
      assertEquals(7, (int) m.call("again", () -> 7));
      assertTrue(m.lwps().stream().noneMatch(l -> l.name().equals("adopted")),
          "adopted LWPs leave with the call");
      assertCleanShutdown(m);
    }
  }

  @Test
  void psShowsEveryLwpWithStateAndWaitChannel() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      populate(m);
      List<String> ps = m.ps();
      assertEquals(m.lwps().size(), ps.size());
      assertTrue(ps.stream().anyMatch(s -> s.matches("sleeper +lid=\\d+ +SLEEP +forever +cpu0.*")),
          () -> String.join("\n", ps));
      assertTrue(ps.stream().anyMatch(s -> s.matches("napper +lid=\\d+ +SLEEP +nap .*")),
          () -> String.join("\n", ps));
      assertTrue(ps.stream().anyMatch(s -> s.matches("hog +lid=\\d+ +ONPROC +- +cpu1")),
          () -> String.join("\n", ps));
      assertTrue(ps.stream().anyMatch(s -> s.matches("queued +lid=\\d+ +RUNNABLE +cpu +cpu1 .*")),
          () -> String.join("\n", ps));
      assertTrue(ps.stream().anyMatch(s -> s.matches("softnet/1 +lid=\\d+ +IDLE .*")),
          () -> String.join("\n", ps));
      assertCleanShutdown(m);
    }
  }

  @Test
  void subsystemIsMadeOnce() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      AtomicInteger made = new AtomicInteger();
      StringBuilder a = m.subsystem(StringBuilder.class, mm -> {
        made.incrementAndGet();
        return new StringBuilder("x");
      });
      StringBuilder b = m.subsystem(StringBuilder.class, mm -> new StringBuilder("y"));
      assertSame(a, b);
      assertEquals(1, made.get());
      assertCleanShutdown(m);
    }
  }

  @Test
  void configValidatesAndKeepsOptions() {
    MachineConfig c = MachineConfig.of(4);
    assertEquals(List.of(4, 100, 256, Duration.ofSeconds(60)),
        List.of(c.ncpu(), c.hz(), c.traceSize(), c.watchdog()));
    MachineConfig d = c.withHz(1000).withTraceSize(0).withWatchdog(Duration.ZERO)
        .withOption("xcall", "legacy");
    assertEquals("legacy", d.option("xcall", "fixed"));
    assertEquals("fixed", c.option("xcall", "fixed"));
    assertEquals(Map.of("xcall", "legacy"), d.options());
    assertThrows(IllegalArgumentException.class, () -> MachineConfig.of(0));
    assertThrows(IllegalArgumentException.class, () -> MachineConfig.of(65));
    assertThrows(IllegalArgumentException.class, () -> c.withHz(0));
    assertThrows(IllegalArgumentException.class, () -> c.withTraceSize(-1));
    assertThrows(IllegalArgumentException.class, () -> c.withWatchdog(Duration.ofSeconds(-1)));
    try (Machine m = Machine.boot(d)) {
      assertEquals(1000, m.hz());
      assertEquals(4, m.ncpu());
      assertEquals(List.of("cpu0", "cpu1", "cpu2", "cpu3"),
          m.cpus().stream().map(Cpu::name).toList());
      assertCleanShutdown(m);
    }
  }

  /**
   * kpause sleeps in state SLEEP on its wmesg and gives the CPU up (1 CPU: another LWP runs);
   * shutdown ends the sleep early (the LWP unwinds instead of returning from kpause).
   */
  @Test
  void kpauseSleepsOnItsWmesgAndFreesTheCpu() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      AtomicBoolean otherRan = new AtomicBoolean();
      AtomicBoolean returned = new AtomicBoolean();
      Lwp napper = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Kern.kpause("zzz", 60 * Kern.hz());
        returned.set(true);
      }, "napper");
      await().atMost(TIMEOUT).until(() -> napper.state() == Lwp.State.SLEEP);
      assertEquals("zzz", napper.wchan());
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> otherRan.set(true), "other");
      awaitOrStop(m, otherRan::get);
      assertCleanShutdown(m);
      assertFalse(returned.get());
      assertEquals(Lwp.State.ZOMBIE, napper.state());
    }
  }
}
