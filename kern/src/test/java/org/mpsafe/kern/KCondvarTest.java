package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.check;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** condvar(9): timed waits, signal/broadcast, and no lost wakeup under load. */
class KCondvarTest {

  @Test
  void timedwaitTimesOutWithEwouldblock() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("cv");
      List<Object> r = m.call("t", () -> {
        mtx.enter();
        int t0 = Kern.getticks();
        int e = cv.timedwait(mtx, 2);
        int slept = Kern.getticks() - t0;
        boolean owned = mtx.owned();
        mtx.exit();
        return List.of(e, owned, slept >= 1);
      });
      assertEquals(List.of(Kern.EWOULDBLOCK, true, true), r);
      assertCleanShutdown(m);
    }
  }

  @Test
  void signalledTimedwaitReturnsZero() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("sigcv");
      AtomicReference<String> result = new AtomicReference<>();
      Lwp waiter = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        mtx.enter();
        int e = cv.timedwait(mtx, 60 * Kern.hz()); // a minute: never reached by a pass
        result.set(e + " " + mtx.owned());
        mtx.exit();
      }, "waiter");
      awaitOrStop(m, () -> waiter.state() == Lwp.State.SLEEP);
      assertEquals("sigcv", waiter.wchan());
      m.run("signaller", () -> {
        mtx.enter();
        check(cv.hasWaiters(), "cv_has_waiters");
        cv.signal();
        mtx.exit();
      });
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("0 true", result.get());
      assertCleanShutdown(m);
    }
  }

  /**
   * A wakeup makes a sleeper that gave its CPU up runnable from the waker's side (setrunnable):
   * its free CPU is granted, or it is queued on its busy CPU, before its host thread runs. After
   * the wakeup each sleeper spins on {@code go} while holding its CPU, so what the waker reads
   * cannot change under it.
   */
  @Test
  void wakeupMakesTheSleeperRunnableInTheWaker() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      Sleepq q = new Sleepq();
      AtomicInteger done = new AtomicInteger();
      AtomicBoolean go = new AtomicBoolean();
      Runnable sleeper = () -> {
        Lwp l = Lwp.current();
        q.enqueue(l);
        q.block(l, "direct", 0);
        while (!go.get()) {
          Thread.onSpinWait();
        }
        done.incrementAndGet();
      };
      Lwp onFree = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), sleeper, "on-free-cpu");
      Lwp onBusy = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), sleeper, "on-busy-cpu");
      awaitOrStop(m, () -> onFree.state() == Lwp.State.SLEEP
          && onBusy.state() == Lwp.State.SLEEP);
      Machine.Entry e = m.enter("waker", m.cpu(0));
      List<String> seen = new ArrayList<>();
      try {
        q.wakeAll();
        seen.add(onFree.state() + " " + onFree.wokenRunnable + " " + (m.cpu(1).owner == onFree));
        seen.add(onBusy.state() + " " + onBusy.wokenRunnable + " "
            + m.cpu(0).runq.contains(onBusy));
        go.set(true);
      } finally {
        e.exit();
      }
      assertEquals(List.of("ONPROC true true", "RUNNABLE true true"), seen);
      awaitOrStop(m, () -> done.get() == 2);
      assertCleanShutdown(m);
    }
  }

  @Test
  void broadcastWakesEveryWaiter() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("bcast");
      AtomicInteger woken = new AtomicInteger();
      List<Lwp> waiters = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        waiters.add(m.kthreadCreate(Pri.PRI_KTHREAD, 0, i == 0 ? m.cpu(1) : null, () -> {
          mtx.enter();
          cv.await(mtx);
          mtx.exit();
          woken.incrementAndGet();
        }, "w" + i));
      }
      awaitOrStop(m, () -> waiters.stream().allMatch(l -> l.state() == Lwp.State.SLEEP));
      m.run("bcaster", () -> {
        mtx.enter();
        cv.broadcast();
        check(!cv.hasWaiters(), "waiters left after broadcast");
        mtx.exit();
      });
      awaitOrStop(m, () -> woken.get() == 4);
      assertCleanShutdown(m);
    }
  }

  /** Two LWPs on two CPUs hand a token back and forth: every round completes. */
  @Test
  void pingPongLosesNoWakeup() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("pp");
      KCondvar cv = new KCondvar("ppcv");
      int rounds = 10_000;
      int[] turn = {0};
      int[] moves = new int[2];
      AtomicInteger done = new AtomicInteger();
      for (int me = 0; me < 2; me++) {
        final int self = me;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          for (int r = 0; r < rounds; r++) {
            mtx.enter();
            while (turn[0] != self) {
              cv.await(mtx);
            }
            moves[self]++;
            turn[0] = 1 - self;
            cv.signal();
            mtx.exit();
          }
          done.incrementAndGet();
        }, "pp/" + me);
      }
      awaitOrStop(m, () -> done.get() == 2);
      assertEquals(List.of(rounds, rounds), List.of(moves[0], moves[1]));
      assertCleanShutdown(m);
    }
  }

  /**
   * Two producers and two consumers on a small ring, cv_signal() on two condvars (the classic
   * lost-wakeup trap): every item is consumed exactly once and everybody finishes.
   */
  @Test
  void producersAndConsumersLoseNoWakeup() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("pc");
      KCondvar notEmpty = new KCondvar("notempty");
      KCondvar notFull = new KCondvar("notfull");
      int perProducer = 10_000;
      long[] ring = new long[4];
      long[] headTail = {0, 0};
      long[] sum = {0};
      long[] count = new long[2];
      AtomicInteger done = new AtomicInteger();
      for (int p = 0; p < 2; p++) {
        final long base = p * 1_000_000L;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, p == 0 ? m.cpu(0) : null, () -> {
          for (int i = 0; i < perProducer; i++) {
            mtx.enter();
            while (headTail[1] - headTail[0] == ring.length) {
              notFull.await(mtx);
            }
            ring[(int) (headTail[1]++ % ring.length)] = base + i;
            notEmpty.signal();
            mtx.exit();
          }
          done.incrementAndGet();
        }, "prod" + p);
      }
      for (int c = 0; c < 2; c++) {
        final int self = c;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, c == 0 ? m.cpu(1) : null, () -> {
          for (int i = 0; i < perProducer; i++) {
            mtx.enter();
            while (headTail[1] == headTail[0]) {
              notEmpty.await(mtx);
            }
            sum[0] += ring[(int) (headTail[0]++ % ring.length)];
            count[self]++;
            notFull.signal();
            mtx.exit();
          }
          done.incrementAndGet();
        }, "cons" + c);
      }
      awaitOrStop(m, () -> done.get() == 4);
      long n = perProducer;
      long expected = 2 * (n * (n - 1) / 2) + 1_000_000L * n;
      assertEquals(expected, sum[0]);
      assertEquals(2 * n, count[0] + count[1]);
      assertEquals(headTail[0], headTail[1]);
      assertCleanShutdown(m);
    }
  }

  /** cv_wait releases the mutex while asleep (another LWP on the only CPU takes it). */
  @Test
  void waitReleasesTheMutexAndTheCpu() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("rel");
      boolean[] cond = {false};
      AtomicReference<String> result = new AtomicReference<>();
      Lwp waiter = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        mtx.enter();
        while (!cond[0]) {
          cv.await(mtx);
        }
        result.set("woke owning=" + mtx.owned());
        mtx.exit();
      }, "waiter");
      awaitOrStop(m, () -> waiter.state() == Lwp.State.SLEEP);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        mtx.enter(); // the waiter still "holds" it in cv_wait: only possible if released
        cond[0] = true;
        cv.signal();
        mtx.exit();
      }, "setter");
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("woke owning=true", result.get());
      assertCleanShutdown(m);
    }
  }

  /** cv_wait without the mutex: {@code KASSERT(mutex_owned(mtx))}. */
  @Test
  void waitWithoutTheMutexPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("cv");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("t", () -> cv.await(mtx)));
      assertEquals("kernel diagnostic assertion \"mutex_owned(mtx)\" failed: file "
          + "\"sys/kern/kern_condvar.c\", line 219 ", e.panic().message());
      assertTrue(m.panic().isPresent());
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void negativeTicksAreMisuse() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("m");
      KCondvar cv = new KCondvar("cv");
      assertThrows(IllegalArgumentException.class, () -> m.run("t", () -> {
        mtx.enter();
        try {
          cv.timedwait(mtx, -1);
        } finally {
          mtx.exit();
        }
      }));
      assertCleanShutdown(m);
    }
  }
}
