package org.mpsafe.bench;

import java.util.concurrent.TimeUnit;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A preemption point when nobody waits for the CPU ({@link Kern#preempt()} in a loop of
 * {@link #N}) against the same loop with nothing in it, and with one volatile read of a field
 * (what a preemption point should cost: {@code curcpu()->wantPri > curlwp->l_pri}). The thread
 * is an LWP bound to cpu0 of a 1-CPU machine whose softint LWPs are idle, so nobody outranks
 * it. The empty loop is removed by the JIT: it shows the floor (≈ 0), not a cost.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.NODIAGNOSTIC, BenchSupport.HOST_THREADS,
    BenchSupport.HOST_THREADS_CLASS})
@Threads(1)
public class PreemptBench {
  static final int N = 1000;

  /** A 1-CPU machine; the benchmark thread is entered bound to cpu0. */
  @State(Scope.Thread)
  public static class OnCpu {
    Machine machine;
    Machine.Entry entry;
    volatile int wantPri = Integer.MIN_VALUE;
    int pri;

    @Setup(Level.Trial)
    public void boot() {
      machine = BenchSupport.boot(BenchSupport.config(1));
      entry = machine.enter("preempt/0", machine.cpu(0));
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      entry.exit();
      BenchSupport.shutdown(machine);
    }
  }

  @Benchmark
  @OperationsPerInvocation(N)
  public void preemptLoop(OnCpu s) {
    for (int i = 0; i < N; i++) {
      Kern.preempt();
    }
  }

  /** Baseline: the loop alone (the JIT removes it). */
  @Benchmark
  @OperationsPerInvocation(N)
  public void emptyLoop(OnCpu s) {
    for (int i = 0; i < N; i++) {
      // nothing
    }
  }

  /** Baseline: one volatile read and a compare per iteration, the ideal preemption point. */
  @Benchmark
  @OperationsPerInvocation(N)
  public int volatileReadLoop(OnCpu s) {
    int taken = 0;
    for (int i = 0; i < N; i++) {
      if (s.wantPri > s.pri) {
        taken++;
      }
    }
    return taken;
  }
}
