package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.TIMEOUT;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.lwpNamed;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * softint_disestablish of a handler that is pending behind another handler of its level, whose
 * softint LWP sleeps on a lock (docs/races/softint-disestablish.md). Each step waits for a state
 * (an LWP asleep on a named lock, a flag), so the order is fixed, not timed: kern_softint.c
 * 1.41's wait (ACTIVE) returns while the handler is still pending and the handler then runs
 * with sh_func cleared; the fix's wait (PENDING) returns only after it ran.
 */
class SoftintDisestablishTest {
  private static final String LATE = "use after free: softint_execute on cpu1: softint b "
      + "(arg softc b) was disestablished while pending here: sh_func == NULL (trap type 6, "
      + "call through NULL)";

  /** What the scenario leaves: the machine, the flags, the holder of lock "a" on cpu0. */
  private record Setup(Machine m, Softint.Handle b, KMutex lockA, Machine.Entry holder,
      AtomicBoolean returned, AtomicInteger ranB) {}

  /**
   * cpu0 holds lock "a"; on cpu1 handler a (slot 0) sleeps on it, so handler b (slot 1) stays
   * SOFTINT_PENDING; an LWP on cpu2 calls softint_disestablish(b).
   */
  private static Setup setUp(Softint.Disestablish mode) {
    Machine m = Machine.boot(MachineConfig.of(3).withOption(Softint.OPTION_DISESTABLISH, mode));
    // kern alone has no xcall: the cross call's part here (seeing other CPUs' sh_flags) is done
    // by the volatile flag words themselves.
    m.softint().setXcNullop(() -> { });
    KMutex lockA = new KMutex("lock a");
    AtomicInteger ranB = new AtomicInteger();
    Softint.Handle a = m.softint().establish(Softint.SOFTINT_NET, () -> {
      lockA.enter();
      lockA.exit();
    }, "a");
    Softint.Handle b = m.softint().establish(Softint.SOFTINT_NET, ranB::incrementAndGet, "b",
        "softc b");
    Machine.Entry holder = m.enter("holder", m.cpu(0));
    lockA.enter();
    m.softint().scheduleCpu(a, m.cpu(1));
    m.softint().scheduleCpu(b, m.cpu(1));
    Lwp softnet1 = lwpNamed(m, "softnet/1");
    awaitOrStop(m, () -> softnet1.state() == Lwp.State.SLEEP
        && "lock a".equals(softnet1.wchan()));
    assertTrue(m.softint().pendingOn(b, m.cpu(1)));
    assertFalse(m.softint().activeOn(b, m.cpu(1)));
    AtomicBoolean returned = new AtomicBoolean();
    m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(2), () -> {
      m.softint().disestablish(b);
      returned.set(true);
    }, "detach/2");
    return new Setup(m, b, lockA, holder, returned, ranB);
  }

  @Test
  void activeOnlyReturnsWhilePendingAndTheHandlerRunsAfterwards() throws Exception {
    Setup s = setUp(Softint.Disestablish.ACTIVE);
    Machine m = s.m();
    try {
      awaitOrStop(m, () -> s.returned().get());
      assertTrue(m.softint().pendingOn(s.b(), m.cpu(1)), "b is still pending on cpu1");
      try {
        s.lockA().exit();
      } catch (MachineStopped e) {
        // mutex_exit's preemption point found the machine stopped: cpu1 panicked first
      }
      assertTrue(m.awaitStop(TIMEOUT));
      Panic p = m.panic().orElseThrow();
      assertEquals(LATE, p.message());
      assertEquals("softnet/1", p.lwp());
      assertEquals(1, p.cpu());
      assertEquals(0, s.ranB().get());
    } finally {
      s.holder().exit();
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void pendingOrActiveWaitsUntilTheHandlerRan() {
    Setup s = setUp(Softint.Disestablish.PENDING);
    Machine m = s.m();
    Lwp detach = lwpNamed(m, "detach/2");
    awaitOrStop(m, () -> detach.state() == Lwp.State.SLEEP && "softdis".equals(detach.wchan()));
    assertFalse(s.returned().get());
    assertEquals(0, s.ranB().get());
    s.lockA().exit();
    awaitOrStop(m, () -> s.returned().get());
    assertEquals(1, s.ranB().get());
    s.holder().exit();
    assertCleanShutdown(m);
  }

  /** A disestablished slot is free: the next establish of its level takes it. */
  @Test
  void aFreedSlotIsTakenAgain() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> { }, "h");
      m.softint().setXcNullop(() -> { });
      m.run("detach", () -> m.softint().disestablish(h));
      Softint.Handle again = m.softint().establish(Softint.SOFTINT_NET, () -> { }, "again");
      assertEquals(h.bit, again.bit, "a freed slot is taken again");
      assertCleanShutdown(m);
    }
  }
}
