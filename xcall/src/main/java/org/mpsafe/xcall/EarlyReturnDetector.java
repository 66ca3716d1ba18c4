package org.mpsafe.xcall;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Trace;

/**
 * The early-return detector: per low-priority job, which CPUs were sent it, started it and
 * finished it; when {@code xc_wait(ticket)} returns while the job that ticket belongs to has a
 * callback that has not finished, it records an {@link EarlyReturn}. It only observes: it takes
 * no lock of its own and changes no ordering of the algorithm.
 *
 * <pre>
 * Implementation notes
 *
 * Jobs are kept in a ring of the last RING jobs, indexed by job number. sent/started/finished
 * bitmasks (CPU index = bit) are written under xc_lock (admission, xc_thread taking the job,
 * xc_thread just before its donep++), and read by the returning waiter without the lock: they
 * are volatile, and a waiter that returned because donep >= ticket sees every write made before
 * the donep increment it observed — which is why finished() must precede donep++. A job older
 * than the ring cannot be checked (never the case in practice: the ring is far longer than the
 * number of CPUs that can lag).
 * </pre>
 */
final class EarlyReturnDetector {
  static final int EARLY_RETURN = Trace.kind("xc_early_return");
  private static final int RING = 1024;

  static final class Job {
    volatile long number;
    volatile long ticket;
    volatile long sent;
    volatile long started;
    volatile long finished;
  }

  private final Job[] ring = new Job[RING];
  private volatile long latestJob;
  private final AtomicLong count = new AtomicLong();
  private final List<EarlyReturn> recent = new CopyOnWriteArrayList<>();
  private final List<Consumer<EarlyReturn>> listeners = new CopyOnWriteArrayList<>();

  EarlyReturnDetector() {
    for (int i = 0; i < RING; i++) {
      ring[i] = new Job();
    }
  }

  /** Under xc_lock: job {@code number} with {@code ticket} was posted to CPUs {@code sent}. */
  void admitted(long number, long ticket, long sent) {
    Job j = ring[(int) (number % RING)];
    j.started = 0;
    j.finished = 0;
    j.sent = sent;
    j.ticket = ticket;
    j.number = number;
    latestJob = number;
  }

  /** Under xc_lock: CPU {@code cpu} took job {@code number}. */
  void started(long number, int cpu) {
    Job j = ring[(int) (number % RING)];
    if (j.number == number) {
      j.started |= 1L << cpu;
    }
  }

  /** Under xc_lock: CPU {@code cpu} finished job {@code number}. */
  void finished(long number, int cpu) {
    Job j = ring[(int) (number % RING)];
    if (j.number == number) {
      j.finished |= 1L << cpu;
    }
  }

  /** After {@code xc_wait(ticket)} returned, in the waiter, on its CPU. */
  void waitReturned(long ticket, long donep, long uptimeNanos) {
    Job j = null;
    long latest = latestJob;
    for (long n = latest; n > 0 && n > latest - 64; n--) {
      Job c = ring[(int) (n % RING)];
      if (c.number == n && c.ticket == ticket) {
        j = c;
        break;
      }
    }
    if (j == null) {
      return;
    }
    long job = j.number;
    long sent = j.sent;
    long fin = j.finished;
    if ((sent & ~fin) == 0) {
      return;
    }
    long started = j.started;
    EarlyReturn e = new EarlyReturn(ticket, job, Lwp.current().name(),
        cpus(started & ~fin), cpus(sent & ~started), donep, uptimeNanos);
    count.incrementAndGet();
    Trace.record(EARLY_RETURN, ticket, started & ~fin);
    XcallEvents.EarlyReturn ev = new XcallEvents.EarlyReturn();
    if (ev.isEnabled()) {
      ev.ticket = ticket;
      ev.job = job;
      ev.running = e.running().toString();
      ev.donep = donep;
      ev.commit();
    }
    if (recent.size() < 64) {
      recent.add(e);
    }
    for (Consumer<EarlyReturn> l : listeners) {
      l.accept(e);
    }
  }

  long count() {
    return count.get();
  }

  List<EarlyReturn> recent() {
    return List.copyOf(recent);
  }

  void addListener(Consumer<EarlyReturn> l) {
    listeners.add(l);
  }

  private static List<Integer> cpus(long mask) {
    List<Integer> out = new ArrayList<>();
    for (long m = mask; m != 0; m &= m - 1) {
      out.add(Long.numberOfTrailingZeros(m));
    }
    return out;
  }
}
