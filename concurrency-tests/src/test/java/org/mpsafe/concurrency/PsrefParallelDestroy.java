package org.mpsafe.concurrency;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;
import org.mpsafe.psref.Psref;
import org.mpsafe.psref.PsrefClass;
import org.mpsafe.psref.PsrefOptions;
import org.mpsafe.psref.PsrefTarget;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.psref.UseAfterReturn;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;

/**
 * PR kern/51632 at the psref level, left to the scheduler: on a 2-CPU machine a bound LWP on
 * CPU 1 holds a passive reference to target T1; then two unbound LWPs destroy T1 and T2 (same
 * class) in parallel with {@code psref_target_destroy}, which drains with low-priority xcalls
 * ({@code psreffed_p}, its frame on the destroyer's kernel stack). The holder lets go of T1 once
 * T2's destroy has returned. Nothing delays a callback or a destroyer.
 *
 * <p>Legacy accounting: if T1's drain callback on CPU 1 has not finished when T2's job is
 * admitted and completes on CPU 0, T1's {@code xc_wait} returns early, T1 is marked destroyed
 * (while still referenced) and its {@code psreffed_p} frame dies; the late callback then reads
 * the dead frame and {@code _psref_held} panics with the PR's message
 * {@code mismatched psref target class: 0x0 (ref) != 0x2 (expected)}.
 *
 * <p>Failure (one iteration): a panic, T1's destroy returning before the holder released its
 * reference, a destroy that never returned (deadlock), a use-after-return report, or a thread
 * that outlived {@link Machine#shutdown()}.
 */
final class PsrefParallelDestroy {
  private PsrefParallelDestroy() {}

  static final String MISMATCH = "mismatched psref target class";

  static MachineConfig config(XcallAccounting mode) {
    return MachineConfig.of(2)
        .withWatchdog(Duration.ZERO)
        .withTraceSize(0)
        .withHz(1000)
        .withOption(Xcall.OPTION_ACCOUNTING, mode)
        .withOption(Xcall.OPTION_DETECTOR, true)
        .withOption(PsrefOptions.OPTION_FRAME_DETECTOR, true);
  }

  /** The holder's side: it holds T1 until told that T2's destroy returned. */
  private static final class Holder {
    final KMutex lock = new KMutex("holder");
    final KCondvar cv = new KCondvar("holder");
    volatile boolean letGo;
    volatile boolean releasing;

    void waitToLetGo() {
      lock.enter();
      while (!letGo) {
        cv.await(lock);
      }
      lock.exit();
    }

    void tellToLetGo() {
      lock.enter();
      letGo = true;
      cv.broadcast();
      lock.exit();
    }
  }

  /**
   * One iteration; throws {@link AssertionError} on a failure.
   *
   * @param useAfterReturnFails whether a use-after-return report alone fails the iteration.
   *     Under the legacy accounting an early return can also be silent: a late callback of
   *     the first drain round reads the dead frame after the destroyer's next round has pushed
   *     an identical one in its place (same target, same class), so nothing panics and the
   *     detector is the only witness. The legacy test looks for the PR's panic and passes
   *     false (the report is then only part of a failure's message); the fixed test passes
   *     true, since there any dead-frame read is a bug.
   */
  static void run(XcallAccounting mode, boolean useAfterReturnFails) {
    Machine m = Machine.boot(config(mode));
    List<String> problems = new CopyOnWriteArrayList<>();
    List<String> alive;
    try {
      PsrefClass cls = m.call("setup", () -> Psrefs.classCreate("testcls", Ipl.IPL_SOFTNET));
      PsrefTarget t1 = new PsrefTarget("T1");
      PsrefTarget t2 = new PsrefTarget("T2");
      m.run("init", () -> {
        Psrefs.targetInit(t1, cls);
        Psrefs.targetInit(t2, cls);
      });
      Xcall.of(m);
      Holder h = new Holder();
      CountDownLatch holding = new CountDownLatch(1);
      CountDownLatch done = new CountDownLatch(3);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        try {
          Psref ref = new Psref();
          Psrefs.acquire(ref, t1, cls);
          holding.countDown();
          h.waitToLetGo();
          h.releasing = true;
          Psrefs.release(ref, t1, cls);
        } finally {
          holding.countDown();
          done.countDown();
        }
      }, "holder");
      holding.await();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        try {
          Psrefs.targetDestroy(t1, cls);
          if (!h.releasing) {
            problems.add("T1's psref_target_destroy returned while CPU 1 still held a reference");
          }
        } finally {
          done.countDown();
        }
      }, "destroyer-1");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        try {
          Psrefs.targetDestroy(t2, cls);
          h.tellToLetGo();
        } finally {
          done.countDown();
        }
      }, "destroyer-2");
      done.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    } finally {
      alive = m.shutdown();
    }
    List<String> why = new ArrayList<>();
    m.panic().ifPresent(p -> why.add("panic: " + p.message() + " (cpu" + p.cpu() + ", "
        + p.lwp() + ")"));
    why.addAll(problems);
    if (!alive.isEmpty()) {
      why.add("threads alive after shutdown: " + alive);
    }
    boolean failed = !why.isEmpty();
    for (UseAfterReturn u : Psrefs.useAfterReturnEvents(m)) {
      why.add("use after return: " + u.describe());
      failed |= useAfterReturnFails;
    }
    if (failed) {
      throw new AssertionError(mode + " " + Xcall.of(m).lowpriState() + ": "
          + String.join("; ", why));
    }
  }
}
