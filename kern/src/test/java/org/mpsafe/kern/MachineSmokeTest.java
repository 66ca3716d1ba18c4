package org.mpsafe.kern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MachineSmokeTest {
  @Test
  void mutexCountsWithoutLossAcrossCpus() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("test");
      long[] counter = {0};
      AtomicInteger done = new AtomicInteger();
      for (int i = 0; i < 4; i++) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, i % 2 == 0 ? m.cpu(i / 2) : null, () -> {
          for (int k = 0; k < 20_000; k++) {
            mtx.enter();
            counter[0]++;
            mtx.exit();
          }
          done.incrementAndGet();
        }, "w" + i);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> done.get() == 4 || !m.running());
      assertTrue(m.panic().isEmpty(), () -> m.panic().get().toString());
      m.run("check", () -> {
        mtx.enter();
        assertEquals(80_000, counter[0]);
        mtx.exit();
      });
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void softintRunsOnScheduledCpu() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicLong ranOn = new AtomicLong(-1);
      Softint.Handle h = m.softint().establish(Ipl.IPL_SOFTNET, () -> {
        assertTrue(Kern.cpuSoftintrP());
        ranOn.set(Kern.curcpuIndex());
      }, "t");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(h), "s");
      await().atMost(Duration.ofSeconds(10)).until(() -> ranOn.get() >= 0);
      assertEquals(1, ranOn.get());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void cvTimedwaitTimesOut() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("cv");
      int r = m.call("t", () -> {
        mtx.enter();
        int e = cv.timedwait(mtx, 2);
        mtx.exit();
        return e;
      });
      assertEquals(Kern.EWOULDBLOCK, r);
    }
  }
}
