package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** evcnt(9) made per CPU: increments land on the current CPU, value() sums them. */
class EvCntTest {

  @Test
  void sumsPerCpuIncrements() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      EvCnt ev = new EvCnt(m, "crosscall", "unicast");
      AtomicInteger done = new AtomicInteger();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        for (int i = 0; i < 1000; i++) {
          ev.incr();
        }
        done.incrementAndGet();
      }, "c0");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        for (int i = 0; i < 2500; i++) {
          ev.incr();
        }
        ev.add(Kern.curcpu(), 500);
        done.incrementAndGet();
      }, "c1");
      awaitOrStop(m, () -> done.get() == 2);
      assertEquals(4000, ev.value());
      assertEquals("crosscall unicast = 4000", ev.toString());
      assertEquals("crosscall", ev.group());
      assertEquals("unicast", ev.name());
      assertCleanShutdown(m);
    }
  }

  /**
   * Unbound LWPs that migrate between increments, at preemption points and while blocking, still
   * lose no increment: an increment is one CPU's plain read-modify-write with no point inside.
   */
  @Test
  void incrementsFromMigratingLwpsAddUp() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      EvCnt ev = new EvCnt(m, "test", "migrating");
      KMutex mtx = new KMutex("ev");
      AtomicInteger done = new AtomicInteger();
      for (int k = 0; k < 4; k++) {
        m.kthreadCreate(k == 0 ? Pri.PRI_KNET : Pri.PRI_KTHREAD, 0, null, () -> {
          for (int i = 0; i < 5_000; i++) {
            ev.incr();
            if (i % 7 == 0) {
              mtx.enter();
              mtx.exit();
            }
            Kern.yield();
          }
          done.incrementAndGet();
        }, "inc" + k);
      }
      awaitOrStop(m, () -> done.get() == 4);
      assertEquals(20_000, ev.value());
      assertCleanShutdown(m);
    }
  }
}
