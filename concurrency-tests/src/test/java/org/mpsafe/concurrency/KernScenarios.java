package org.mpsafe.concurrency;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;

/**
 * Small scenarios on kern's primitives, one Fray iteration each. A lost wakeup anywhere
 * (mutex sleep queue, condvar, the scheduler's CPU handoff, a softint LWP's idle wait) leaves
 * an LWP asleep forever; the scenario's main thread then waits forever too, every thread is
 * blocked, and Fray reports a deadlock. Everything else a scenario checks is collected in
 * {@code problems} and thrown as an {@link AssertionError} after shutdown.
 */
final class KernScenarios {
  private KernScenarios() {}

  static MachineConfig config() {
    return MachineConfig.of(2).withWatchdog(Duration.ZERO).withTraceSize(0).withHz(1000);
  }

  /** A machine, the LWPs of one scenario, and what they found. */
  private static final class Run {
    final Machine m = Machine.boot(config());
    final List<String> problems = new CopyOnWriteArrayList<>();
    final List<Runnable> bodies = new ArrayList<>();
    final List<Object[]> specs = new ArrayList<>();

    void lwp(String name, int pri, Cpu bound, Runnable body) {
      specs.add(new Object[] {name, pri, bound, body});
    }

    /** S1: the LWP running here is the CPU's owner. */
    void checkOwner(String where) {
      Cpu c = Kern.curcpu();
      if (c.curlwp() != Kern.curlwp()) {
        problems.add(Kern.curlwp().name() + " " + where + ": on " + c + " owned by "
            + c.curlwp());
      }
    }

    /** Starts every LWP, waits for all to end, shuts down; throws what was found. */
    void go() {
      List<String> alive;
      try {
        CountDownLatch done = new CountDownLatch(specs.size());
        for (Object[] s : specs) {
          Runnable body = (Runnable) s[3];
          m.kthreadCreate((Integer) s[1], 0, (Cpu) s[2], () -> {
            try {
              body.run();
            } finally {
              done.countDown();
            }
          }, (String) s[0]);
        }
        done.await();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      } finally {
        alive = m.shutdown();
      }
      List<String> why = new ArrayList<>(problems);
      m.panic().ifPresent(p -> why.add("panic: " + p.message()));
      if (!alive.isEmpty()) {
        why.add("threads alive after shutdown: " + alive);
      }
      if (!why.isEmpty()) {
        throw new AssertionError(String.join("; ", why));
      }
    }
  }

  /**
   * kmutex/kcondvar: three unbound LWPs on two CPUs pass a token round a ring twice, each
   * waiting on its own condvar for its turn and {@code cv_signal}ing the next one's, while a
   * fourth LWP increments a counter under the same mutex. Inside the mutex every LWP yields its
   * CPU between a read and a write of the shared counter (so contenders find the owner off CPU
   * and sleep on the mutex). Checks: mutual exclusion, no lost increment, the ring completes.
   */
  static void mutexCondvarRing() {
    final int ring = 3;
    final int rounds = 2;
    final int contenderOps = 3;
    Run r = new Run();
    KMutex mtx = new KMutex("ring");
    KCondvar[] cv = new KCondvar[ring];
    for (int i = 0; i < ring; i++) {
      cv[i] = new KCondvar("ring" + i);
    }
    int[] state = new int[3]; // turn, counter, inside: guarded by mtx
    for (int i = 0; i < ring; i++) {
      final int me = i;
      r.lwp("ring/" + i, Pri.PRI_KTHREAD, null, () -> {
        for (int k = 0; k < rounds; k++) {
          mtx.enter();
          while (state[0] != me) {
            cv[me].await(mtx);
          }
          criticalSection(r, state, "ring/" + me);
          state[0] = (me + 1) % ring;
          cv[(me + 1) % ring].signal();
          mtx.exit();
        }
      });
    }
    r.lwp("contender", Pri.PRI_KTHREAD, null, () -> {
      for (int k = 0; k < contenderOps; k++) {
        mtx.enter();
        criticalSection(r, state, "contender");
        mtx.exit();
      }
    });
    r.go();
    if (state[1] != ring * rounds + contenderOps) {
      throw new AssertionError("lost update under the mutex: counter=" + state[1] + ", expected "
          + (ring * rounds + contenderOps));
    }
  }

  private static void criticalSection(Run r, int[] state, String who) {
    if (state[2]++ != 0) {
      r.problems.add(who + " entered the mutex while another LWP was inside");
    }
    int x = state[1];
    Kern.yield();
    r.checkOwner("in the critical section");
    state[1] = x + 1;
    state[2]--;
  }

  /**
   * The CPU handoff: three unbound posters on two CPUs each ask for a softint on a chosen CPU
   * ({@code softint_schedule_cpu}, remote or local) and sleep until the handler has run there
   * after their request; a higher-priority unbound LWP naps and yields meanwhile, taking CPUs
   * from them at preemption points. Checks: every request is served (the softint LWP's idle
   * wait and the scheduler's grants lose no wakeup), the handler runs on the CPU it was asked
   * for at the softint's IPL, and every LWP always runs on a CPU it owns (S1).
   */
  static void cpuHandoff() {
    final int posters = 3;
    final int rounds = 2;
    Run r = new Run();
    Machine m = r.m;
    // Handler and posters meet under a spin mutex at the softint's IPL, as in a driver.
    KMutex spin = new KMutex("sih", KMutex.MUTEX_SPIN, Ipl.IPL_SOFTNET);
    KCondvar served = new KCondvar("served");
    int[] requested = new int[m.ncpu()];
    int[] ran = new int[m.ncpu()];
    Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> {
      r.checkOwner("in the softint");
      if (Kern.curcpu().ipl() != Ipl.IPL_SOFTNET) {
        r.problems.add("softint handler at IPL " + Kern.curcpu().ipl());
      }
      int c = Kern.curcpuIndex();
      spin.enter();
      ran[c] = requested[c];
      served.broadcast();
      spin.exit();
    }, "test-sih");
    for (int i = 0; i < posters; i++) {
      final int me = i;
      r.lwp("poster/" + i, Pri.PRI_KTHREAD, null, () -> {
        for (int k = 0; k < rounds; k++) {
          Cpu target = m.cpu((me + k) % m.ncpu());
          int c = target.index();
          spin.enter();
          int mine = ++requested[c];
          spin.exit();
          m.softint().scheduleCpu(h, target);
          r.checkOwner("after softint_schedule_cpu");
          spin.enter();
          while (ran[c] < mine) {
            served.await(spin);
          }
          spin.exit();
          r.checkOwner("after cv_wait");
          Kern.yield();
        }
      });
    }
    r.lwp("napper", Pri.PRI_KNET, null, () -> {
      for (int k = 0; k < 2; k++) {
        Kern.kpause("nap", 1);
        r.checkOwner("after kpause");
        Kern.yield();
        Kern.preempt();
      }
    });
    r.go();
  }

  /**
   * Binding: an LWP bound to each CPU, and an unbound one that binds itself with
   * {@code curlwp_bind()}, go through every way of giving the CPU up — a contended mutex, a
   * timed condvar wait (whose result is ignored, the loop re-checks), {@code kpause},
   * {@code yield}, a preemption point with a higher-priority LWP waiting — while unbound LWPs
   * compete for the CPUs. Checks: a bound LWP is always back on its own CPU (S3, NetBSD's
   * LP_BOUND), and S1.
   */
  static void boundNeverMigrates() {
    Run r = new Run();
    Machine m = r.m;
    KMutex mtx = new KMutex("bind");
    KCondvar cv = new KCondvar("bind");
    boolean[] flag = new boolean[1]; // guarded by mtx
    for (int i = 0; i < m.ncpu(); i++) {
      Cpu home = m.cpu(i);
      r.lwp("bound/" + i, Pri.PRI_KTHREAD, home, () -> blockEveryWay(r, mtx, cv, flag, home));
    }
    r.lwp("self-bound", Pri.PRI_KTHREAD, null, () -> {
      int b = Kern.curlwpBind();
      Cpu home = Kern.curcpu();
      blockEveryWay(r, mtx, cv, flag, home);
      Kern.curlwpBindx(b);
      if (Kern.curlwp().isBound()) {
        r.problems.add("curlwp_bindx(0) left self-bound bound");
      }
    });
    r.lwp("rival", Pri.PRI_KNET, null, () -> {
      for (int k = 0; k < 2; k++) {
        mtx.enter();
        flag[0] = true;
        cv.broadcast();
        mtx.exit();
        Kern.kpause("rival", 1);
      }
    });
    r.go();
  }

  private static void blockEveryWay(Run r, KMutex mtx, KCondvar cv, boolean[] flag, Cpu home) {
    Lwp self = Kern.curlwp();
    Runnable check = () -> {
      if (Kern.curcpu() != home) {
        r.problems.add(self.name() + " bound to " + home + " runs on " + Kern.curcpu());
      }
      r.checkOwner("bound");
    };
    mtx.enter();
    check.run();
    Kern.yield();
    check.run();
    int deadline = Kern.getticks() + 2;
    while (!flag[0] && Kern.getticks() < deadline) {
      cv.timedwait(mtx, 1);
      check.run();
    }
    mtx.exit();
    check.run();
    Kern.kpause("bound", 1);
    check.run();
    Kern.yield();
    check.run();
    Kern.preempt();
    check.run();
  }
}
