package org.mpsafe.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.mpsafe.kern.HostThread;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Machine;
import org.mpsafe.psref.Psref;
import org.mpsafe.psref.PsrefClass;
import org.mpsafe.psref.PsrefTarget;
import org.mpsafe.psref.Psrefs;

/**
 * Acquire+release pairs in thread CPU time: psref against an {@link AtomicLong} refcount and a
 * {@link LongAdder}, with 1 and 2 threads, each thread bound to its own virtual CPU.
 *
 * <p>JMH's average time is wall-clock time, so on a loaded 2-core host a thread descheduled for
 * half an iteration doubles its ns/op. This measurement divides each thread's CPU time
 * ({@link ThreadMXBean#getCurrentThreadCpuTime}) by its pairs instead: host descheduling does
 * not count, contention does (a CAS that waits for a cache line burns CPU time). It is what
 * design §9's "in CPU time per pair" targets refer to. Each case runs {@code WARMUP} pairs per
 * thread, then {@code ROUNDS} rounds of {@code PAIRS} pairs; the rounds' median is printed,
 * with min and max. DIAGNOSTIC should be off ({@code -Dmpsafe.nodiagnostic=true}), as in the
 * JMH forks.
 *
 * <pre>
 * java -Dmpsafe.nodiagnostic=true -cp bench/target/benchmarks.jar \
 *     org.mpsafe.bench.CpuTimePairs [pairs-per-round]
 * </pre>
 */
public final class CpuTimePairs {
  private static final int ROUNDS = 7;
  private static final long WARMUP = 20_000_000L;

  private CpuTimePairs() {}

  /** One way of taking and dropping a reference, run by thread {@code t} of a case. */
  private interface Pair {
    void run(long n);
  }

  public static void main(String[] args) throws Exception {
    long pairs = args.length > 0 ? Long.parseLong(args[0]) : 20_000_000L;
    Machine m = BenchSupport.boot(BenchSupport.config(2));
    PsrefClass[] cls = new PsrefClass[1];
    PsrefTarget target = new PsrefTarget("bench");
    m.run("setup", () -> {
      cls[0] = Psrefs.classCreate("bench", Ipl.IPL_SOFTNET);
      Psrefs.targetInit(target, cls[0]);
    });
    AtomicLong refcnt = new AtomicLong();
    LongAdder adder = new LongAdder();
    Map<String, Pair> cases = new LinkedHashMap<>();
    cases.put("psref", n -> {
      Psref ref = new Psref();
      for (long i = 0; i < n; i++) {
        Psrefs.acquire(ref, target, cls[0]);
        Psrefs.release(ref, target, cls[0]);
      }
    });
    cases.put("atomicLong", n -> {
      for (long i = 0; i < n; i++) {
        refcnt.incrementAndGet();
        refcnt.decrementAndGet();
      }
    });
    cases.put("longAdder", n -> {
      for (long i = 0; i < n; i++) {
        adder.increment();
        adder.decrement();
      }
    });
    try {
      System.out.printf(Locale.ROOT, "# CPU-ns per acquire+release pair, median of %d rounds of "
          + "%,d pairs per thread (min..max); %s%n", ROUNDS, pairs, Runtime.version());
      for (int threads = 1; threads <= 2; threads++) {
        for (Map.Entry<String, Pair> c : cases.entrySet()) {
          double[] perThread = measure(m, c.getValue(), threads, pairs);
          StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-11s %d thread%s",
              c.getKey(), threads, threads == 1 ? " " : "s"));
          for (int t = 0; t < threads; t++) {
            line.append(String.format(Locale.ROOT, "  t%d %6.2f (%6.2f..%6.2f)", t,
                perThread[3 * t], perThread[3 * t + 1], perThread[3 * t + 2]));
          }
          System.out.println(line);
        }
      }
    } finally {
      BenchSupport.shutdown(m);
    }
  }

  /**
   * Runs {@code pair} on {@code threads} HostThreads, each entered on its own CPU; returns per
   * thread {median, min, max} CPU-ns per pair over the rounds.
   */
  private static double[] measure(Machine m, Pair pair, int threads, long pairs)
      throws Exception {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    double[][] ns = new double[threads][ROUNDS];
    CyclicBarrier barrier = new CyclicBarrier(threads);
    List<Thread> ts = new ArrayList<>();
    Throwable[] failure = new Throwable[1];
    ThreadFactory f = HostThread.factory("cpu-time");
    for (int t = 0; t < threads; t++) {
      int me = t;
      Thread th = f.newThread(() -> {
        Machine.Entry e = m.enter("cpu-time/" + me, m.cpu(me));
        try {
          pair.run(WARMUP);
          for (int r = 0; r < ROUNDS; r++) {
            barrier.await();
            long t0 = mx.getCurrentThreadCpuTime();
            pair.run(pairs);
            ns[me][r] = (mx.getCurrentThreadCpuTime() - t0) / (double) pairs;
          }
        } catch (Throwable x) {
          synchronized (failure) {
            failure[0] = x;
          }
          barrier.reset();
        } finally {
          e.exit();
        }
      });
      ts.add(th);
      th.start();
    }
    for (Thread th : ts) {
      th.join();
    }
    if (failure[0] != null) {
      throw new IllegalStateException("measurement failed", failure[0]);
    }
    double[] out = new double[3 * threads];
    for (int t = 0; t < threads; t++) {
      double[] r = ns[t].clone();
      Arrays.sort(r);
      out[3 * t] = r[ROUNDS / 2];
      out[3 * t + 1] = r[0];
      out[3 * t + 2] = r[ROUNDS - 1];
    }
    return out;
  }
}
