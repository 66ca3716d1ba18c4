package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.check;
import static org.mpsafe.kern.KernTestSupport.spinUntil;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** kmutex(9): exclusion, sleeping contenders, spin mutexes at an IPL, and its panics. */
class KMutexTest {

  @Test
  void countsWithoutLossAcrossCpus() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("test");
      long[] counter = {0};
      AtomicInteger done = new AtomicInteger();
      for (int i = 0; i < 4; i++) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, i % 2 == 0 ? m.cpu(i / 2) : null, () -> {
          for (int k = 0; k < 20_000; k++) {
            mtx.enter();
            check(mtx.owned(), "mutex_owned");
            counter[0]++;
            mtx.exit();
          }
          done.incrementAndGet();
        }, "w" + i);
      }
      awaitOrStop(m, () -> done.get() == 4);
      assertEquals(80_000L, (long) m.call("check", () -> {
        mtx.enter();
        long v = counter[0];
        mtx.exit();
        return v;
      }));
      assertCleanShutdown(m);
    }
  }

  /**
   * A contender whose owner is off its CPU sleeps on the mutex (state SLEEP, wchan = the mutex
   * name) and gives its CPU up: another LWP bound to that CPU runs meanwhile. mutex_exit hands
   * the mutex on.
   */
  @Test
  void contenderSleepsAndGivesItsCpuUp() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("contended");
      KMutex gate = new KMutex("gate");
      KCondvar gateCv = new KCondvar("gatecv");
      boolean[] open = {false};
      AtomicBoolean holderIn = new AtomicBoolean();
      AtomicBoolean contenderIn = new AtomicBoolean();
      AtomicReference<String> ranMeanwhile = new AtomicReference<>();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        mtx.enter();
        holderIn.set(true);
        gate.enter();
        while (!open[0]) {
          gateCv.await(gate); // sleeps holding mtx: its owner is off-CPU
        }
        gate.exit();
        mtx.exit();
      }, "holder");
      awaitOrStop(m, holderIn::get);
      Lwp contender = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        mtx.enter();
        contenderIn.set(true);
        check(Kern.curcpuIndex() == 1, "bound");
        mtx.exit();
      }, "contender");
      awaitOrStop(m, () -> contender.state() == Lwp.State.SLEEP);
      assertEquals("contended", contender.wchan());
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1),
          () -> ranMeanwhile.set(Kern.curcpu().name() + " " + contenderIn.get()), "other");
      awaitOrStop(m, () -> ranMeanwhile.get() != null);
      assertEquals("cpu1 false", ranMeanwhile.get());
      m.run("opener", () -> {
        gate.enter();
        open[0] = true;
        gateCv.signal();
        gate.exit();
      });
      awaitOrStop(m, contenderIn::get);
      assertCleanShutdown(m);
    }
  }

  /**
   * A spin mutex (IPL above IPL_NONE) raises the CPU's IPL while held, so a softint at or below
   * it stays pending until the outermost mutex_exit restores the IPL, which is a preemption
   * point: the softint has run when mutex_exit returns.
   */
  @Test
  void spinMutexHoldsOffSoftintsUntilExit() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex outer = new KMutex("outer", KMutex.MUTEX_DEFAULT, Ipl.IPL_SOFTNET);
      KMutex inner = new KMutex("inner", KMutex.MUTEX_SPIN, Ipl.IPL_SOFTCLOCK);
      AtomicBoolean ran = new AtomicBoolean();
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> ran.set(true), "net");
      String r = m.call("spin", () -> {
        StringBuilder sb = new StringBuilder();
        outer.enter();
        sb.append(outer.isSpin()).append(' ').append(Ipl.name(Kern.curcpu().ipl()));
        inner.enter();
        sb.append(' ').append(Ipl.name(Kern.curcpu().ipl()));
        m.softint().schedule(h);
        inner.exit();
        sb.append(' ').append(Ipl.name(Kern.curcpu().ipl())).append(' ').append(ran.get());
        outer.exit();
        sb.append(' ').append(Ipl.name(Kern.curcpu().ipl())).append(' ').append(ran.get());
        return sb.toString();
      });
      assertEquals("true IPL_SOFTNET IPL_SOFTNET IPL_SOFTNET false IPL_NONE true", r);
      assertCleanShutdown(m);
    }
  }

  @Test
  void tryEnterFailsWhileAnotherLwpHoldsIt() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("try");
      AtomicBoolean held = new AtomicBoolean();
      AtomicBoolean release = new AtomicBoolean();
      Lwp holder = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        mtx.enter();
        held.set(true);
        spinUntil(release::get);
        mtx.exit();
      }, "holder");
      awaitOrStop(m, held::get);
      List<Object> r = m.call("try", () -> List.of(mtx.tryEnter(), mtx.owner() == holder,
          mtx.owned()));
      assertEquals(List.of(false, true, false), r);
      release.set(true);
      awaitOrStop(m, () -> mtx.owner() == null);
      assertEquals(List.of(true, true), m.call("try2", () -> {
        boolean got = mtx.tryEnter();
        boolean owned = mtx.owned();
        mtx.exit();
        return List.of(got, owned);
      }));
      assertCleanShutdown(m);
    }
  }

  /** {@code Mutex error: mutex_vector_enter: locking against myself}. */
  @Test
  void mutexLockingAgainstMyselfPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("self");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("recurse", () -> {
        mtx.enter();
        mtx.enter();
      }));
      assertEquals("Mutex error: mutex_vector_enter: locking against myself",
          e.panic().message());
      assertEquals("recurse", e.panic().lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** Spin mutexes too: {@code Mutex error: mutex_vector_enter: locking against myself}. */
  @Test
  void spinMutexLockingAgainstMyselfPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("spinself", KMutex.MUTEX_DEFAULT, Ipl.IPL_VM);
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("recurse", () -> {
        mtx.enter();
        mtx.enter();
      }));
      assertEquals("Mutex error: mutex_vector_enter: locking against myself",
          e.panic().message());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** mutex_exit by an LWP that does not own it: {@code Mutex error: mutex_vector_exit: not owner}. */
  @Test
  void mutexExitByNonOwnerPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("other");
      AtomicBoolean held = new AtomicBoolean();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        mtx.enter();
        held.set(true);
        for (;;) {
          Kern.preempt(); // unwinds when the machine stops
        }
      }, "owner");
      awaitOrStop(m, held::get);
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("thief", mtx::exit));
      assertEquals("Mutex error: mutex_vector_exit: not owner", e.panic().message());
      assertEquals("thief", e.panic().lwp());
      assertEquals(1, e.panic().cpu());
      assertEquals(Machine.Outcome.PANIC, m.outcome());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** ... and by nobody at all (an unheld mutex). */
  @Test
  void mutexExitOfUnheldMutexPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("unheld");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("x", mtx::exit));
      assertEquals("Mutex error: mutex_vector_exit: not owner", e.panic().message());
      assertFalse(m.running());
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void constructorRejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new KMutex("x", 7, Ipl.IPL_NONE));
    assertThrows(IllegalArgumentException.class,
        () -> new KMutex("x", KMutex.MUTEX_SPIN, Ipl.IPL_NONE));
    assertThrows(IllegalArgumentException.class,
        () -> new KMutex("x", KMutex.MUTEX_DEFAULT, Ipl.IPL_HIGH + 1));
    assertTrue(new KMutex("x", KMutex.MUTEX_SPIN, Ipl.IPL_VM).isSpin());
    assertFalse(new KMutex("x").isSpin());
  }
}
