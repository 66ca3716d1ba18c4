package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.awaitSoftintsIdle;
import static org.mpsafe.kern.KernTestSupport.check;
import static org.mpsafe.kern.KernTestSupport.spinFor;
import static org.mpsafe.kern.KernTestSupport.spinUntil;
import static org.mpsafe.kern.KernTestSupport.spinUntilWaiting;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The scheduler's invariants (see {@link Scheduler}): S1 exclusivity, S3 bound LWPs stay, blocking
 * releases the CPU, priority preemption at preemption points and only there.
 */
class SchedulerTest {

  /**
   * S1 under contention: bound and unbound LWPs of two priorities on 2 CPUs, and a softint,
   * mark a plain (non-volatile, non-atomic) per-CPU field while they run and check nobody else
   * ever finds it set, between preemption points, mutex contention, yields, cv waits and kpause.
   */
  @Test
  void cpuIsExclusiveUnderContention() {
    try (Machine m = Machine.boot(MachineConfig.of(2).withHz(1000))) {
      Lwp[] occupied = new Lwp[m.ncpu()];
      AtomicInteger violations = new AtomicInteger();
      AtomicReference<String> firstViolation = new AtomicReference<>();
      KMutex mtx = new KMutex("excl");
      KCondvar cv = new KCondvar("exclcv");
      long[] inMutex = {0};
      AtomicInteger softRuns = new AtomicInteger();
      AtomicInteger done = new AtomicInteger();
      int nlwp = 8;
      int rounds = 3000;

      Runnable softHandler = () -> {
        Lwp me = Kern.curlwp();
        Cpu c = Kern.curcpu();
        enter(c, me, occupied, violations, firstViolation);
        leave(c, me, occupied, violations, firstViolation);
        softRuns.incrementAndGet();
      };
      Softint.Handle sih = m.softint().establish(Softint.SOFTINT_NET, softHandler, "excl");

      for (int i = 0; i < nlwp; i++) {
        Cpu bound = i < 4 ? m.cpu(i % 2) : null;
        int pri = i % 3 == 0 ? Pri.PRI_KNET : Pri.PRI_KTHREAD;
        m.kthreadCreate(pri, 0, bound, () -> {
          Lwp me = Kern.curlwp();
          for (int r = 0; r < rounds; r++) {
            Cpu c = Kern.curcpu();
            if (bound != null && c != bound) {
              note(violations, firstViolation, me + " bound to " + bound + " runs on " + c);
            }
            enter(c, me, occupied, violations, firstViolation);
            leave(c, me, occupied, violations, firstViolation);
            switch (r % 6) {
              case 0 -> Kern.preempt();
              case 1 -> {
                mtx.enter();
                Cpu c2 = Kern.curcpu();
                enter(c2, me, occupied, violations, firstViolation);
                inMutex[0]++;
                leave(c2, me, occupied, violations, firstViolation);
                mtx.exit();
              }
              case 2 -> Kern.yield();
              case 3 -> {
                mtx.enter();
                cv.timedwait(mtx, 1);
                mtx.exit();
              }
              case 4 -> {
                mtx.enter();
                cv.signal();
                mtx.exit();
              }
              default -> {
                if (r % 60 == 5) {
                  Kern.kpause("excl", 1);
                } else {
                  int s = Kern.splsoftnet();
                  m.softint().schedule(sih);
                  Kern.splx(s);
                }
              }
            }
          }
          done.incrementAndGet();
        }, "excl/" + i);
      }
      awaitOrStop(m, () -> done.get() == nlwp);
      assertEquals(0, violations.get(), () -> "first violation: " + firstViolation.get());
      long expected = (long) nlwp * (rounds / 6);
      assertEquals(expected, m.call("check", () -> {
        mtx.enter();
        long v = inMutex[0];
        mtx.exit();
        return v;
      }));
      assertTrue(softRuns.get() > 0, "the softint never ran");
      assertCleanShutdown(m);
    }
  }

  /** Marks CPU {@code c} occupied by {@code me} and re-checks it a few times. */
  private static void enter(Cpu c, Lwp me, Lwp[] occupied, AtomicInteger violations,
      AtomicReference<String> first) {
    if (c.curlwp() != me) {
      note(violations, first, c + ".curlwp() is " + c.curlwp() + ", not " + me);
    }
    Lwp o = occupied[c.index()];
    if (o != null) {
      note(violations, first, me + " found " + c + " occupied by " + o);
    }
    occupied[c.index()] = me;
    for (int k = 0; k < 20; k++) {
      if (occupied[c.index()] != me || c.curlwp() != me || Kern.curcpu() != c) {
        note(violations, first, me + " lost " + c + " to " + occupied[c.index()]);
      }
      Thread.onSpinWait();
    }
  }

  private static void leave(Cpu c, Lwp me, Lwp[] occupied, AtomicInteger violations,
      AtomicReference<String> first) {
    if (occupied[c.index()] != me) {
      note(violations, first, me + " found its mark on " + c + " overwritten");
    }
    occupied[c.index()] = null;
  }

  private static void note(AtomicInteger violations, AtomicReference<String> first, String s) {
    violations.incrementAndGet();
    first.compareAndSet(null, s);
  }

  /**
   * S3: a bound LWP comes back to its own CPU after cv waits, kpause, mutex contention,
   * preempt() and yield(), while unbound LWPs fight over the mutex and the CPUs and a
   * higher-priority LWP bound to the same CPU keeps taking it.
   */
  @Test
  void boundLwpNeverMigrates() {
    try (Machine m = Machine.boot(MachineConfig.of(2).withHz(1000))) {
      KMutex mtx = new KMutex("bm");
      KCondvar cv = new KCondvar("bcv");
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger hiRuns = new AtomicInteger();
      List<String> wrong = Collections.synchronizedList(new ArrayList<>());
      AtomicBoolean done = new AtomicBoolean();
      for (int i = 0; i < 2; i++) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          while (!stop.get()) {
            mtx.enter();
            for (int k = 0; k < 100; k++) {
              Thread.onSpinWait();
            }
            mtx.exit();
            Kern.yield();
          }
        }, "unbound/" + i);
      }
      m.kthreadCreate(Pri.PRI_KNET, 0, m.cpu(1), () -> {
        while (!stop.get()) {
          Kern.kpause("hi", 1);
          hiRuns.incrementAndGet();
        }
      }, "hi/1");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        Cpu mine = m.cpu(1);
        Lwp me = Kern.curlwp();
        for (int r = 0; r < 150; r++) {
          mtx.enter();
          expectOn(mine, me, "mutex_enter", wrong);
          cv.timedwait(mtx, 1);
          expectOn(mine, me, "cv_timedwait", wrong);
          mtx.exit();
          expectOn(mine, me, "mutex_exit", wrong);
          Kern.kpause("b", 1);
          expectOn(mine, me, "kpause", wrong);
          Kern.preempt();
          expectOn(mine, me, "preempt", wrong);
          Kern.yield();
          expectOn(mine, me, "yield", wrong);
        }
        done.set(true);
      }, "bound/1");
      awaitOrStop(m, done::get);
      stop.set(true);
      assertEquals(List.of(), wrong);
      assertTrue(hiRuns.get() > 0, "the high-priority LWP never ran on cpu1");
      assertCleanShutdown(m);
    }
  }

  private static void expectOn(Cpu mine, Lwp me, String after, List<String> wrong) {
    if (Kern.curcpu() != mine || mine.curlwp() != me || me.cpu() != mine) {
      wrong.add("after " + after + ": on " + Kern.curcpu());
    }
  }

  /**
   * An unbound LWP may come back on another CPU after it blocks (here its CPU is taken by a
   * bound hog meanwhile), and curlwp_bind() pins it until curlwp_bindx().
   */
  @Test
  void unboundLwpMigratesButCurlwpBindPinsIt() {
    try (Machine m = Machine.boot(MachineConfig.of(2).withHz(1000))) {
      AtomicBoolean stop = new AtomicBoolean();
      Set<Integer> seen = ConcurrentHashMap.newKeySet();
      AtomicInteger first = new AtomicInteger(-1);
      AtomicInteger whileBound = new AtomicInteger(-1);
      AtomicInteger afterUnbind = new AtomicInteger(-1);
      AtomicBoolean wasBound = new AtomicBoolean();
      AtomicBoolean done = new AtomicBoolean();
      awaitSoftintsIdle(m); // so that the CPU the hog does not hold is free
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Cpu a = Kern.curcpu();
        first.set(a.index());
        seen.add(a.index());
        int bound = Kern.curlwpBind();
        check(bound == 0, "was not bound");
        wasBound.set(Kern.curlwp().isBound());
        Lwp hog = m.kthreadCreate(Pri.PRI_KTHREAD, 0, a, () -> {
          while (!stop.get()) {
            Kern.yield();
          }
        }, "hog");
        spinUntil(() -> hog.state() == Lwp.State.RUNNABLE);
        Kern.kpause("bound", 1);
        whileBound.set(Kern.curcpuIndex());
        seen.add(Kern.curcpuIndex());
        Kern.curlwpBindx(bound);
        check(!Kern.curlwp().isBound(), "still bound after bindx");
        Kern.kpause("unbound", 1);
        afterUnbind.set(Kern.curcpuIndex());
        seen.add(Kern.curcpuIndex());
        done.set(true);
      }, "wanderer");
      awaitOrStop(m, done::get);
      stop.set(true);
      assertTrue(wasBound.get());
      assertEquals(first.get(), whileBound.get(), "curlwp_bind()ed LWP came back elsewhere");
      assertNotEquals(first.get(), afterUnbind.get(),
          "unbound LWP waited for its old CPU although the other one was idle");
      assertEquals(Set.of(0, 1), seen);
      assertCleanShutdown(m);
    }
  }

  /** Blocking releases the CPU: two LWPs bound to one CPU ping-pong on a condvar. */
  @Test
  void twoLwpsBoundToOneCpuPingPong() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KMutex mtx = new KMutex("pp");
      KCondvar cv = new KCondvar("ppcv");
      int rounds = 5000;
      int[] turn = {0};
      int[] moves = new int[2];
      AtomicInteger done = new AtomicInteger();
      for (int me = 0; me < 2; me++) {
        final int self = me;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
          for (int r = 0; r < rounds; r++) {
            mtx.enter();
            while (turn[0] != self) {
              cv.await(mtx);
            }
            check(Kern.curcpuIndex() == 0, "bound to cpu0");
            moves[self]++;
            turn[0] = 1 - self;
            cv.signal();
            mtx.exit();
          }
          done.incrementAndGet();
        }, "pp/" + me);
      }
      awaitOrStop(m, () -> done.get() == 2);
      assertEquals(rounds, moves[0]);
      assertEquals(rounds, moves[1]);
      assertCleanShutdown(m);
    }
  }

  /** Blocking releases the CPU: a 1-CPU machine runs a producer/consumer to completion. */
  @Test
  void oneCpuProducerConsumerCompletes() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KMutex mtx = new KMutex("pc");
      KCondvar notEmpty = new KCondvar("pcne");
      KCondvar notFull = new KCondvar("pcnf");
      int n = 20_000;
      long[] ring = new long[8];
      int[] headTail = {0, 0};
      long[] sum = {0};
      AtomicBoolean consumed = new AtomicBoolean();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        for (int i = 0; i < n; i++) {
          mtx.enter();
          while (headTail[1] - headTail[0] == ring.length) {
            notFull.await(mtx);
          }
          ring[headTail[1]++ % ring.length] = i;
          notEmpty.signal();
          mtx.exit();
        }
      }, "producer");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        for (int i = 0; i < n; i++) {
          mtx.enter();
          while (headTail[1] == headTail[0]) {
            notEmpty.await(mtx);
          }
          long v = ring[headTail[0]++ % ring.length];
          check(v == i, "got " + v + ", expected " + i);
          sum[0] += v;
          notFull.signal();
          mtx.exit();
        }
        consumed.set(true);
      }, "consumer");
      awaitOrStop(m, consumed::get);
      assertEquals((long) n * (n - 1) / 2, sum[0]);
      assertCleanShutdown(m);
    }
  }

  /** The preemption points under test. */
  enum Point { PREEMPT, MUTEX_EXIT, SPLX_LOWERING, KPREEMPT_ENABLE, RW_EXIT }

  /**
   * A higher-priority LWP waiting for the CPU takes it at the first preemption point once the
   * CPU can see it, and the preempted bound LWP comes back to the same CPU afterwards.
   */
  @ParameterizedTest
  @EnumSource(Point.class)
  void higherPriorityLwpPreemptsAtPoint(Point point) {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicBoolean flag = new AtomicBoolean();
      AtomicReference<Lwp> high = new AtomicReference<>();
      AtomicInteger highCpu = new AtomicInteger(-1);
      AtomicReference<String> result = new AtomicReference<>();
      KMutex mtx = new KMutex("pt");
      KRwlock rw = new KRwlock("ptrw");
      Lwp low = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        spinUntilWaiting(spinFor(high), m.cpu(0));
        boolean before = flag.get();
        switch (point) {
          case PREEMPT -> Kern.preempt();
          case MUTEX_EXIT -> {
            mtx.enter();
            mtx.exit();
          }
          case SPLX_LOWERING -> {
            int s = Kern.splsoftnet();
            Kern.splx(s);
          }
          case KPREEMPT_ENABLE -> {
            Kern.kpreemptDisable();
            Kern.kpreemptEnable();
          }
          case RW_EXIT -> {
            rw.enter(KRwlock.RW_READER);
            rw.exit();
          }
          default -> throw new AssertionError(point);
        }
        result.set("before=" + before + " after=" + flag.get() + " cpu=" + Kern.curcpuIndex());
      }, "low/0");
      awaitOrStop(m, () -> low.state() == Lwp.State.ONPROC);
      high.set(m.kthreadCreate(Pri.PRI_KNET, 0, m.cpu(0), () -> {
        highCpu.set(Kern.curcpuIndex());
        flag.set(true);
      }, "high/0"));
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("before=false after=true cpu=0", result.get());
      assertEquals(0, highCpu.get());
      assertCleanShutdown(m);
    }
  }

  /**
   * kpreempt_disable() holds a higher-priority waiter off through any number of preemption
   * points (and so pins the LWP); kpreempt_enable() lets it in at once.
   */
  @Test
  void kpreemptDisableHoldsOffHigherPriorityUntilEnable() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicBoolean flag = new AtomicBoolean();
      AtomicReference<Lwp> high = new AtomicReference<>();
      AtomicInteger sawUnset = new AtomicInteger();
      AtomicReference<String> result = new AtomicReference<>();
      KMutex mtx = new KMutex("kpd");
      int n = 1000;
      Lwp low = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        Kern.kpreemptDisable();
        check(Kern.kpreemptDisabled(), "kpreempt_disabled()");
        check(Kern.curlwp().nopreempt() == 1, "l_nopreempt == 1");
        spinUntilWaiting(spinFor(high), m.cpu(0));
        for (int i = 0; i < n; i++) {
          Kern.preempt();
          mtx.enter();
          mtx.exit();
          int s = Kern.splsoftnet();
          Kern.splx(s);
          if (!flag.get() && Kern.curcpuIndex() == 0) {
            sawUnset.incrementAndGet();
          }
        }
        boolean stillWaiting = high.get().state() == Lwp.State.RUNNABLE;
        Kern.kpreemptEnable();
        result.set("waiting=" + stillWaiting + " after=" + flag.get()
            + " disabled=" + Kern.kpreemptDisabled());
      }, "low/0");
      awaitOrStop(m, () -> low.state() == Lwp.State.ONPROC);
      high.set(m.kthreadCreate(Pri.PRI_KNET, 0, m.cpu(0), () -> flag.set(true), "high/0"));
      awaitOrStop(m, () -> result.get() != null);
      assertEquals(n, sawUnset.get());
      assertEquals("waiting=true after=true disabled=false", result.get());
      assertCleanShutdown(m);
    }
  }

  /** An LWP of equal or lower priority does not preempt; yield() lets it run. */
  @Test
  void equalPriorityWaitsForYield() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      AtomicBoolean flag = new AtomicBoolean();
      AtomicReference<Lwp> other = new AtomicReference<>();
      AtomicReference<String> result = new AtomicReference<>();
      Lwp first = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Lwp o = spinFor(other);
        spinUntil(() -> o.state() == Lwp.State.RUNNABLE && m.cpu(0).anyWaiter);
        for (int i = 0; i < 100; i++) {
          Kern.preempt();
        }
        boolean before = flag.get();
        Kern.yield();
        result.set("before=" + before + " after=" + flag.get());
      }, "first");
      awaitOrStop(m, () -> first.state() == Lwp.State.ONPROC);
      other.set(m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> flag.set(true), "second"));
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("before=false after=true", result.get());
      assertCleanShutdown(m);
    }
  }
}
