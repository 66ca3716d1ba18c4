package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.spinFor;
import static org.mpsafe.kern.KernTestSupport.spinUntilWaiting;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** percpu(9): one value per CPU; getref pins the caller to its CPU until putref. */
class PerCpuTest {

  /**
   * percpu_getref gives the current CPU's value with preemption disabled: a higher-priority
   * waiter stays out through preemption points until percpu_putref, which lets it in at once.
   */
  @Test
  void getrefDisablesPreemptionAndGivesThisCpusValue() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      PerCpu<int[]> pc = PerCpu.alloc(m, i -> new int[] {i * 10});
      AtomicBoolean flag = new AtomicBoolean();
      AtomicReference<Lwp> high = new AtomicReference<>();
      AtomicReference<String> result = new AtomicReference<>();
      Lwp low = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        int[] mine = pc.getref();
        String in = mine[0] + " " + Kern.curlwp().nopreempt() + " " + Kern.kpreemptDisabled();
        spinUntilWaiting(spinFor(high), m.cpu(1));
        for (int i = 0; i < 1000; i++) {
          Kern.preempt();
          mine[0]++;
        }
        in += " " + flag.get() + " " + (pc.local() == mine);
        pc.putref();
        result.set(in + " | " + flag.get() + " " + Kern.curlwp().nopreempt() + " "
            + Kern.kpreemptDisabled());
      }, "low/1");
      awaitOrStop(m, () -> low.state() == Lwp.State.ONPROC);
      high.set(m.kthreadCreate(Pri.PRI_KNET, 0, m.cpu(1), () -> flag.set(true), "high/1"));
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("10 1 true false true | true 0 false", result.get());
      assertEquals(1010, pc.get(1)[0]);
      assertEquals(0, pc.get(0)[0]);
      assertCleanShutdown(m);
    }
  }

  /** Bound LWPs count into their own CPU's value without atomics; foreach sees every CPU. */
  @Test
  void foreachVisitsEveryCpusValue() {
    try (Machine m = Machine.boot(MachineConfig.of(3))) {
      PerCpu<long[]> pc = PerCpu.alloc(m, i -> new long[1]);
      AtomicInteger done = new AtomicInteger();
      for (int c = 0; c < 3; c++) {
        int n = (c + 1) * 1000;
        for (int k = 0; k < 2; k++) {
          m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(c), () -> {
            for (int i = 0; i < n; i++) {
              long[] v = pc.getref();
              v[0]++;
              pc.putref();
              Kern.yield();
            }
            done.incrementAndGet();
          }, "count/" + c + "." + k);
        }
      }
      awaitOrStop(m, () -> done.get() == 6);
      List<String> seen = new ArrayList<>();
      m.run("foreach", () -> pc.foreach((cpu, v) -> seen.add(cpu.name() + "=" + v[0])));
      assertEquals(List.of("cpu0=2000", "cpu1=4000", "cpu2=6000"), seen);
      assertCleanShutdown(m);
    }
  }
}
