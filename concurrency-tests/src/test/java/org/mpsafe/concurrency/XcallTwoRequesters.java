package org.mpsafe.concurrency;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;
import org.mpsafe.xcall.EarlyReturn;
import org.mpsafe.xcall.XcFunc;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;

/**
 * PR kern/51632 at the xcall level, left to the scheduler: two unbound LWPs on a 2-CPU machine
 * each {@code xc_broadcast} a low-priority job and {@code xc_wait} for it. Nothing holds a
 * callback back or delays a requester: whether job A's callback on one CPU is still running
 * when job B is admitted and B's completions raise the shared {@code xc_donep} to A's ticket is
 * up to the interleaving Fray picks.
 *
 * <p>Failure (one iteration): a requester whose {@code xc_wait} returned before its job's
 * callback finished on every CPU (its own count, and the early-return detector's
 * {@link EarlyReturn}), a panic, a requester that never returned (a deadlock, which Fray
 * reports), or a thread that outlived {@link Machine#shutdown()}.
 */
final class XcallTwoRequesters {
  private XcallTwoRequesters() {}

  static final String EARLY = "xc_wait returned early";

  /** One requester's job: the callback counts the CPUs that finished it. */
  private static final class Job {
    final AtomicInteger finished = new AtomicInteger();
  }

  private static final XcFunc CALLBACK = (arg1, arg2) -> ((Job) arg1).finished.incrementAndGet();

  static MachineConfig config(XcallAccounting mode) {
    return MachineConfig.of(2)
        .withWatchdog(Duration.ZERO)
        .withTraceSize(0)
        .withOption(Xcall.OPTION_ACCOUNTING, mode)
        .withOption(Xcall.OPTION_DETECTOR, true);
  }

  /** One iteration; throws {@link AssertionError} on a failure. */
  static void run(XcallAccounting mode) {
    Machine m = Machine.boot(config(mode));
    List<String> problems = new CopyOnWriteArrayList<>();
    AtomicInteger returned = new AtomicInteger();
    Xcall xc;
    List<String> alive;
    try {
      xc = Xcall.of(m);
      CountDownLatch done = new CountDownLatch(2);
      for (String name : List.of("requester-A", "requester-B")) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          try {
            Job job = new Job();
            long where = Xcall.broadcast(0, CALLBACK, job, null);
            Xcall.waitFor(where);
            int fin = job.finished.get();
            if (fin != m.ncpu()) {
              problems.add(EARLY + ": " + name + "'s xc_wait(" + where + ") returned when its "
                  + "callback had finished on " + fin + " of " + m.ncpu() + " CPUs");
            }
            returned.incrementAndGet();
          } finally {
            done.countDown();
          }
        }, name);
      }
      done.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    } finally {
      alive = m.shutdown();
    }
    List<String> why = new ArrayList<>(problems);
    for (EarlyReturn e : xc.earlyReturnEvents()) {
      why.add(EARLY + " (detector): " + e.describe());
    }
    m.panic().ifPresent(p -> why.add("panic: " + p.message()));
    if (returned.get() != 2 && m.panic().isEmpty()) {
      why.add("only " + returned.get() + " of 2 requesters returned");
    }
    if (!alive.isEmpty()) {
      why.add("threads alive after shutdown: " + alive);
    }
    if (!why.isEmpty()) {
      throw new AssertionError(mode + " " + xc.lowpriState() + ": " + String.join("; ", why));
    }
  }
}
