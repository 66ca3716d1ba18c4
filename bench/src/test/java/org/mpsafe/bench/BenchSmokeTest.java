package org.mpsafe.bench;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * Calls every benchmark method a few times through its states' setup and teardown, as JMH
 * would, with DIAGNOSTIC on: proves they run, and that teardown leaves no machine running and
 * no thread behind. Timing is JMH's business, not this test's.
 */
class BenchSmokeTest {
  private Set<Thread> before;

  @BeforeEach
  void snapshotThreads() {
    before = liveThreads();
  }

  @AfterEach
  void noThreadLeft() {
    assertNull(Lwp.currentOrNull(), "the test thread is still adopted as an LWP");
    await().atMost(Duration.ofSeconds(10)).until(() -> leftover().isEmpty());
  }

  private Set<Thread> leftover() {
    Set<Thread> now = liveThreads();
    now.removeAll(before);
    // JDK housekeeping threads started lazily (JFR event registration, cleaners) are not ours
    now.removeIf(t -> t.getName().startsWith("JFR") || t.getName().contains("Cleaner")
        || t.getName().startsWith("awaitility"));
    return now;
  }

  private static Set<Thread> liveThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
        .collect(Collectors.toCollection(HashSet::new));
  }

  private static void assertShutDown(Machine m) {
    assertFalse(m.running());
    assertEquals(Machine.Outcome.SHUTDOWN, m.outcome());
    assertTrue(m.panic().isEmpty(), () -> m.panic().get().toString());
  }

  @Test
  void psrefAtomicAdder() {
    PsrefBench b = new PsrefBench();
    PsrefBench.Shared s = new PsrefBench.Shared();
    s.boot();
    PsrefBench.OnCpu t = new PsrefBench.OnCpu();
    t.enter(s);
    for (int i = 0; i < 3; i++) {
      b.psref1Thread(s, t);
      b.psref2Threads(s, t);
      new PsrefDiagnosticBench().psrefDiagnostic1Thread(s, t);
      new PsrefDiagnosticBench().psrefDiagnostic2Threads(s, t);
      b.atomicRefcount1Thread(s);
      b.atomicRefcount2Threads(s);
      b.longAdder1Thread(s);
      b.longAdder2Threads(s);
      b.krwlockRead1Thread(s, t);
      b.krwlockRead2Threads(s, t);
    }
    assertEquals(0, s.refcnt.get());
    assertEquals(0, s.adder.sum());
    t.exit();
    s.shutdown();
    assertShutDown(s.machine);
  }

  @ParameterizedTest
  @CsvSource({"2, spin", "4, spin", "2, park", "4, park"})
  void xcallExecutorLatchHandoff(int ncpu, String handoff) throws InterruptedException {
    XcallBench b = new XcallBench();
    XcallBench.OnMachine m = new XcallBench.OnMachine();
    m.ncpu = ncpu;
    m.handoff = handoff;
    m.boot();
    XcallBench.Executors1 e = new XcallBench.Executors1();
    e.ncpu = ncpu;
    e.start();
    XcallBench.Handoff h = new XcallBench.Handoff();
    h.ncpu = ncpu;
    h.start();
    for (int i = 0; i < 3; i++) {
      b.xcallLowpri(m);
      b.xcallHighpri(m);
      b.executorLatch(e);
      b.parkUnparkHandoff(h);
    }
    h.stop();
    e.stop();
    m.shutdown();
    assertShutDown(m.machine);
  }

  @ParameterizedTest
  @ValueSource(strings = {"lowpri", "highpri"})
  void psrefDestroy(String drain) {
    PsrefDestroyBench b = new PsrefDestroyBench();
    PsrefDestroyBench.OnMachine m = new PsrefDestroyBench.OnMachine();
    m.drain = drain;
    m.boot();
    for (int i = 0; i < 3; i++) {
      b.psrefDestroyNoHolders(m);
      assertNull(m.target.prtClass());
    }
    m.shutdown();
    assertShutDown(m.machine);

    PsrefDestroyBench.Holding h = new PsrefDestroyBench.Holding();
    h.drain = drain;
    h.boot();
    for (int i = 0; i < 3; i++) {
      h.holdAndStartDestroy();
      assertTrue(h.target.draining());
      b.psrefLastReleaseToDestroy(h);
      assertNull(h.target.prtClass());
    }
    h.shutdown();
    assertShutDown(h.machine);
  }

  @ParameterizedTest
  @CsvSource({"100, 0, RWLOCK", "1000, 10000, RWLOCK", "100, 0, PSERIALIZE",
      "1000, 10000, PSERIALIZE"})
  void lookup(int routes, int changes, String lookup) throws InterruptedException {
    LookupBench b = new LookupBench();
    LookupBench.Net n = new LookupBench.Net();
    n.routes = routes;
    n.changes = changes;
    n.lookup = lookup;
    n.boot();
    assertEquals(routes + 2, n.rt.size()); // + the connected /16 and the local /32
    LookupBench.Forwarder f = new LookupBench.Forwarder();
    f.enter(n);
    for (int i = 0; i < 100; i++) {
      assertEquals(1, b.lookupPsref1Thread(n, f));
      assertEquals(1, b.lookupPsref2Threads(n, f));
    }
    if (changes > 0) {
      // the changer's deletes drain with an xcall that needs our CPU too: wait at preemption
      // points, as a forwarding LWP would give it up
      await().pollInSameThread().pollInterval(Duration.ofMillis(1))
          .atMost(Duration.ofSeconds(20)).until(() -> {
            Kern.preempt();
            return n.changesDone.get() > 2 * LookupBench.WINDOW;
          });
    }
    f.exit();
    n.shutdown();
    assertShutDown(n.machine);

    LookupBench.RwTable t = new LookupBench.RwTable();
    t.routes = routes;
    t.changes = changes;
    t.build();
    LookupBench.Cursor c = new LookupBench.Cursor();
    for (int i = 0; i < 100; i++) {
      assertEquals(1, b.lookupRwlockAtomic1Thread(t, c));
      assertEquals(1, b.lookupRwlockAtomic2Threads(t, c));
    }
    if (changes > 0) {
      await().atMost(Duration.ofSeconds(10)).until(() -> t.changesDone.get() > 2 * LookupBench.WINDOW);
    }
    t.stop();
    assertEquals(0, t.ifa.refcnt.get());
  }

  @Test
  void preempt() {
    PreemptBench b = new PreemptBench();
    PreemptBench.OnCpu s = new PreemptBench.OnCpu();
    s.boot();
    b.preemptLoop(s);
    b.emptyLoop(s);
    assertEquals(0, b.volatileReadLoop(s));
    s.shutdown();
    assertShutDown(s.machine);
  }

  /** Both strategies advance the deterministic machine by exactly the asked virtual time. */
  @ParameterizedTest
  @ValueSource(strings = {"random", "pct:3"})
  void scheduleDeterministic(String strategy) {
    ScheduleBench b = new ScheduleBench();
    ScheduleBench.Det d = new ScheduleBench.Det();
    d.strategy = strategy;
    d.boot();
    long before = d.machine.schedule().orElseThrow().steps();
    long t = b.deterministicDecisions(d);
    long steps = d.machine.schedule().orElseThrow().steps() - before;
    assertTrue(steps >= ScheduleBench.STEPS && steps <= ScheduleBench.STEPS + 2,
        () -> "steps " + steps);
    assertTrue(t >= ScheduleBench.STEPS * 10_000L, () -> "virtual " + t);
    d.shutdown();
    assertShutDown(d.machine);
  }

  @Test
  void scheduleHostHandovers() {
    ScheduleBench b = new ScheduleBench();
    ScheduleBench.Host h = new ScheduleBench.Host();
    h.boot();
    for (int i = 0; i < 100; i++) {
      b.hostHandovers(h);
    }
    h.shutdown();
    assertShutDown(h.machine);
  }

  @Test
  void benchmarkListNamesEveryKind() {
    List<String> names = List.of("psref1Thread", "atomicRefcount2Threads", "longAdder2Threads",
        "xcallLowpri", "xcallHighpri", "executorLatch", "psrefDestroyNoHolders",
        "lookupPsref2Threads", "lookupRwlockAtomic2Threads", "preemptLoop",
        "deterministicDecisions", "hostHandovers");
    Set<String> methods = new HashSet<>();
    for (Class<?> c : List.of(PsrefBench.class, XcallBench.class, PsrefDestroyBench.class,
        LookupBench.class, PreemptBench.class, ScheduleBench.class)) {
      for (var m : c.getDeclaredMethods()) {
        if (m.isAnnotationPresent(Benchmark.class)) {
          methods.add(m.getName());
        }
      }
    }
    assertTrue(methods.containsAll(names), () -> "missing: " + names + " in " + methods);
  }
}
