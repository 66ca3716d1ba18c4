package org.mpsafe.bench;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.mpsafe.kern.HandoffSpin;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.xcall.XcFunc;
import org.mpsafe.xcall.Xcall;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One cross call to every CPU and the wait for it ({@code xc_broadcast} + {@code xc_wait}), low
 * and high priority, against two ways of running a function on N threads and waiting:
 * submitting to N single-thread executors with a {@link CountDownLatch}, and a hand-rolled
 * park/unpark handoff to N parked threads (the cheapest wake-and-wait plain Java offers).
 *
 * <p>The caller is an unbound LWP (a host thread entered with {@link Machine#enter}); the
 * machine has {@link #ncpu} CPUs and the FIXED_DONEP accounting (the default). The function is
 * a no-op, so this measures the dispatch and the wait. Latency distribution: Mode.SampleTime,
 * read p50 / p99 / p99.9. Each xcall benchmark runs with spin-then-park hand-overs (the
 * default) and with parking at once ({@link OnMachine#handoff}). Target: low priority ≥ 2×
 * better p50 and p99.9 than executors + latch; high priority ≥ 5× better at p50.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.NODIAGNOSTIC, BenchSupport.HOST_THREADS,
    BenchSupport.HOST_THREADS_CLASS})
@Threads(1)
public class XcallBench {
  static final XcFunc NOP = (a1, a2) -> {};

  /** The machine and the caller LWP. */
  @State(Scope.Thread)
  public static class OnMachine {
    @Param({"2", "4"})
    public int ncpu;

    /**
     * How a waiting LWP's host thread waits for its CPU: {@code spin} is the default
     * (spin-then-park, {@code HandoffSpin}), {@code park} parks at once (budget 0).
     */
    @Param({"spin", "park"})
    public String handoff;

    Machine machine;
    Machine.Entry entry;

    @Setup(Level.Trial)
    public void boot() {
      MachineConfig config = BenchSupport.config(ncpu);
      if (handoff.equals("park")) {
        config = config.withOption(HandoffSpin.OPTION, 0L);
      } else if (!handoff.equals("spin")) {
        throw new IllegalArgumentException("handoff must be spin or park: " + handoff);
      }
      machine = BenchSupport.boot(config);
      machine.run("xcinit", () -> Xcall.of(machine));
      entry = machine.enter("xcbench", null);
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      if (entry != null) {
        entry.exit();
      }
      BenchSupport.shutdown(machine);
    }
  }

  @Benchmark
  public void xcallLowpri(OnMachine s) {
    Xcall.waitFor(Xcall.broadcast(0, NOP, null, null));
  }

  @Benchmark
  public void xcallHighpri(OnMachine s) {
    Xcall.waitFor(Xcall.broadcast(Xcall.XC_HIGHPRI, NOP, null, null));
  }

  // ---- baseline: N single-thread executors + CountDownLatch --------------------------------

  /** N single-thread executors (N = ncpu). */
  @State(Scope.Thread)
  public static class Executors1 {
    @Param({"2", "4"})
    public int ncpu;

    ExecutorService[] executors;

    @Setup(Level.Trial)
    public void start() {
      executors = new ExecutorService[ncpu];
      for (int i = 0; i < ncpu; i++) {
        int n = i;
        executors[i] = Executors.newSingleThreadExecutor(r -> {
          Thread t = new Thread(r, "bench-executor-" + n);
          t.setDaemon(true);
          return t;
        });
      }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      for (ExecutorService e : executors) {
        e.shutdownNow();
      }
      for (ExecutorService e : executors) {
        if (!e.awaitTermination(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("executor did not stop");
        }
      }
    }
  }

  @Benchmark
  public void executorLatch(Executors1 s) throws InterruptedException {
    CountDownLatch latch = new CountDownLatch(s.executors.length);
    Runnable r = latch::countDown;
    for (ExecutorService e : s.executors) {
      e.execute(r);
    }
    latch.await();
  }

  // ---- baseline: park/unpark handoff to N parked threads -------------------------------------

  /**
   * N threads parked on a generation number: the caller bumps it, unparks each, and parks until
   * the last of them has run the function and unparked it.
   */
  @State(Scope.Thread)
  public static class Handoff {
    @Param({"2", "4"})
    public int ncpu;

    Thread[] workers;
    volatile long generation;
    volatile boolean stop;
    final AtomicInteger remaining = new AtomicInteger();
    volatile Thread caller;

    @Setup(Level.Trial)
    public void start() {
      workers = new Thread[ncpu];
      for (int i = 0; i < ncpu; i++) {
        workers[i] = new Thread(this::work, "bench-handoff-" + i);
        workers[i].setDaemon(true);
        workers[i].start();
      }
    }

    private void work() {
      long seen = 0;
      while (!stop) {
        long g = generation;
        if (g == seen) {
          LockSupport.park(this);
          continue;
        }
        seen = g;
        if (remaining.decrementAndGet() == 0) {
          LockSupport.unpark(caller);
        }
      }
    }

    void broadcastAndWait() {
      caller = Thread.currentThread();
      remaining.set(workers.length);
      generation++;
      for (Thread w : workers) {
        LockSupport.unpark(w);
      }
      while (remaining.get() != 0) {
        LockSupport.park(this);
      }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      stop = true;
      for (Thread w : workers) {
        LockSupport.unpark(w);
        w.join(10_000);
        if (w.isAlive()) {
          throw new IllegalStateException(w.getName() + " did not stop");
        }
      }
    }
  }

  @Benchmark
  public void parkUnparkHandoff(Handoff s) {
    s.broadcastAndWait();
  }
}
