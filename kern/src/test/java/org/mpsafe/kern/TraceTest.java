package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-CPU trace ring: events in order, the last N kept, nothing when off. */
class TraceTest {

  private static final int A = Trace.kind("trace-test-a");
  private static final int B = Trace.kind("trace-test-b");

  private static String show(Trace.Event e) {
    return e.kind() + "(" + e.a() + "," + e.b() + ")";
  }

  @Test
  void kindsAreRegisteredOnce() {
    assertEquals(A, Trace.kind("trace-test-a"));
    assertEquals("trace-test-b", Trace.kindName(B));
    assertEquals("softint", Trace.kindName(Trace.SOFTINT));
    assertEquals("kind99999", Trace.kindName(99_999));
  }

  @Test
  void recordsAndSnapshotsEventsInOrder() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      int lid = m.call("tracer", () -> {
        Kern.curlwpBind();
        for (int i = 1; i <= 5; i++) {
          Trace.record(i % 2 == 0 ? B : A, i, -i);
        }
        return Kern.curlwp().id();
      });
      List<Trace.Event> all = new ArrayList<>();
      for (Cpu c : m.cpus()) {
        all.addAll(c.trace.snapshot().stream().filter(e -> e.lwp() == lid).toList());
      }
      // The scheduler's hand-overs frame them: the CPU granted to the LWP, then left idle.
      assertEquals(List.of("sched_switch(" + lid + ",0)", "trace-test-a(1,-1)",
          "trace-test-b(2,-2)", "trace-test-a(3,-3)", "trace-test-b(4,-4)", "trace-test-a(5,-5)",
          "sched_switch(0,0)"), all.stream().map(TraceTest::show).toList());
      int cpu = all.get(0).cpu();
      assertTrue(all.stream().allMatch(e -> e.cpu() == cpu));
      for (int i = 1; i < all.size(); i++) {
        assertTrue(all.get(i).nanos() >= all.get(i - 1).nanos(), "time goes forward");
      }
      assertTrue(all.get(0).nanos() >= 0 && all.get(6).nanos() <= m.uptimeNanos());
      assertCleanShutdown(m);
    }
  }

  @Test
  void ringKeepsTheLastEvents() {
    try (Machine m = Machine.boot(MachineConfig.of(1).withTraceSize(4))) {
      m.run("tracer", () -> {
        for (int i = 1; i <= 10; i++) {
          Trace.record(A, i, 0);
        }
      });
      // The last 4: events 8..10 and the hand-over that left the CPU idle when the run ended.
      List<Trace.Event> ev = m.cpu(0).trace.snapshot();
      assertEquals(List.of("trace-test-a(8,0)", "trace-test-a(9,0)", "trace-test-a(10,0)",
          "sched_switch(0,0)"), ev.stream().map(TraceTest::show).toList());
      assertCleanShutdown(m);
    }
  }

  @Test
  void sizeZeroRecordsNothing() {
    try (Machine m = Machine.boot(MachineConfig.of(1).withTraceSize(0))) {
      m.run("tracer", () -> Trace.record(A, 1, 2));
      assertEquals(List.of(), m.cpu(0).trace.snapshot());
      assertCleanShutdown(m);
    }
  }

  /**
   * A snapshot taken while the owner writes holds only whole events: every event's two
   * arguments belong together, and the events are consecutive, with nothing torn or out of
   * order. The writer runs a fixed number of events and the reader snapshots until it is done.
   */
  @Test
  void snapshotsWhileTheOwnerWritesHoldOnlyWholeEvents() throws InterruptedException {
    Trace.Ring ring = new Trace.Ring(0, 64);
    int kind = Trace.kind("torn-check");
    int events = 2_000_000;
    Thread writer = new Thread(() -> {
      for (int i = 1; i <= events; i++) {
        ring.add(kind, 7, i, ~(long) i);
      }
    }, "trace-writer");
    writer.start();
    int snapshots = 0;
    int seen = 0;
    while (writer.isAlive() || snapshots == 0) {
      List<Trace.Event> snap = ring.snapshot();
      snapshots++;
      for (int k = 0; k < snap.size(); k++) {
        Trace.Event e = snap.get(k);
        assertEquals(~e.a(), e.b(), "torn event " + e);
        assertEquals("torn-check", e.kind());
        assertEquals(7, e.lwp());
        if (k > 0) {
          assertEquals(snap.get(k - 1).a() + 1, e.a(), "events not consecutive: " + snap);
        }
      }
      seen += snap.size();
    }
    writer.join();
    List<Trace.Event> last = ring.snapshot();
    assertEquals(64, last.size());
    assertEquals(events, last.get(63).a());
    assertTrue(seen > 0, "no snapshot saw an event");
  }
}
