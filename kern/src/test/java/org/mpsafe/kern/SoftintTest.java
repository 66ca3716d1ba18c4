package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.check;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** softint(9): handlers run in the scheduled CPU's softint LWP, at their level, when the IPL lets them. */
class SoftintTest {

  /**
   * softint_schedule() at IPL_SOFTNET: the softnet handler stays pending through preemption
   * points until splx() lowers the IPL, then runs at once on the scheduling CPU, in its
   * {@code softnet/N} LWP, with cpu_softintr_p() true and the CPU at IPL_SOFTNET.
   */
  @Test
  void softnetScheduledAtSplsoftnetRunsWhenSplxLowersIpl() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicReference<String> inHandler = new AtomicReference<>();
      AtomicReference<String> result = new AtomicReference<>();
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> inHandler.set(
          Kern.cpuSoftintrP() + " " + Kern.curcpuIndex() + " " + Kern.curlwp().name() + " "
              + Ipl.name(Kern.curcpu().ipl()) + " " + Kern.curlwp().isBound()), "t");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        check(!Kern.cpuSoftintrP(), "cpu_softintr_p() in a kthread");
        int s = Kern.splsoftnet();
        m.softint().schedule(h);
        for (int i = 0; i < 1000; i++) {
          Kern.preempt();
        }
        String before = String.valueOf(inHandler.get());
        Kern.splx(s);
        result.set(before + " | " + inHandler.get());
      }, "sched/1");
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("null | true 1 softnet/1 IPL_SOFTNET true", result.get());
      assertCleanShutdown(m);
    }
  }

  /** softint_schedule_cpu() to a remote CPU runs the handler there (also from a host thread). */
  @Test
  void scheduleCpuRunsOnTheRemoteCpu() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      List<String> ran = new CopyOnWriteArrayList<>();
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_SERIAL,
          () -> ran.add(Kern.curcpu().name() + " " + Kern.cpuSoftintrP()), "remote");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> m.softint().scheduleCpu(h, m.cpu(1)),
          "sched/0");
      awaitOrStop(m, () -> ran.size() == 1);
      m.softint().scheduleCpu(h, m.cpu(0)); // from a host thread: the IPI of xcall
      awaitOrStop(m, () -> ran.size() == 2);
      assertEquals(List.of("cpu1 true", "cpu0 true"), ran);
      assertCleanShutdown(m);
    }
  }

  /**
   * Pending handlers of every level run when the IPL drops, highest level first; a handler
   * scheduled twice while pending runs once; the scheduling LWP resumes after all of them.
   */
  @Test
  void pendingSoftintsRunOnceHighestLevelFirst() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      List<String> order = new CopyOnWriteArrayList<>();
      Softint s = m.softint();
      Softint.Handle clk = s.establish(Softint.SOFTINT_CLOCK, () -> order.add("clock"), "clk");
      Softint.Handle bio = s.establish(Softint.SOFTINT_BIO, () -> order.add("bio"), "bio");
      Softint.Handle net1 = s.establish(Softint.SOFTINT_NET, () -> order.add("net1"), "net1");
      Softint.Handle net2 = s.establish(Softint.SOFTINT_NET, () -> order.add("net2"), "net2");
      Softint.Handle ser = s.establish(Softint.SOFTINT_SERIAL, () -> order.add("serial"), "ser");
      String r = m.call("sched", () -> {
        int spl = Kern.splhigh();
        for (Softint.Handle h : List.of(clk, net1, bio, ser, net1, net2, clk)) {
          s.schedule(h);
        }
        for (int i = 0; i < 100; i++) {
          Kern.preempt();
        }
        String before = order.toString();
        Kern.splx(spl);
        return before + " " + order;
      });
      assertEquals("[] [serial, net1, net2, bio, clock]", r);
      assertCleanShutdown(m);
    }
  }

  /** A handler that schedules itself again runs again; a busy softint does not lose a schedule. */
  @Test
  void reschedulingFromTheHandlerRunsItAgain() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicInteger runs = new AtomicInteger();
      AtomicReference<Softint.Handle> self = new AtomicReference<>();
      self.set(m.softint().establish(Softint.SOFTINT_NET, () -> {
        if (runs.incrementAndGet() < 100) {
          m.softint().schedule(self.get());
        }
      }, "again"));
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(self.get()), "s");
      awaitOrStop(m, () -> runs.get() == 100);
      assertCleanShutdown(m);
      assertEquals(100, runs.get());
    }
  }

  /**
   * A softint scheduled as soon as boot returns runs at the caller's first splx(): boot returns
   * only once the softint LWPs have started (a softint LWP still NEW would not be woken).
   */
  @Test
  void softintScheduledRightAfterBootRunsAtFirstSplx() {
    for (int i = 0; i < 20; i++) {
      try (Machine m = Machine.boot(MachineConfig.of(1))) {
        AtomicInteger ran = new AtomicInteger();
        Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, ran::incrementAndGet, "b");
        int r = m.call("early", () -> {
          int s = Kern.splsoftnet();
          m.softint().schedule(h);
          Kern.splx(s);
          return ran.get();
        });
        assertEquals(1, r, "boot " + i);
        assertCleanShutdown(m);
      }
    }
  }

  @Test
  void establishRejectsMisuse() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      assertThrows(IllegalArgumentException.class,
          () -> m.softint().establish(Ipl.IPL_NONE, () -> { }, "none"));
      assertThrows(IllegalArgumentException.class,
          () -> m.softint().establish(Ipl.IPL_VM, () -> { }, "vm"));
      assertThrows(IllegalArgumentException.class,
          () -> m.softint().establish(Softint.SOFTINT_NET, null, "null"));
      assertCleanShutdown(m);
    }
  }
}
