package org.mpsafe.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link PsrefBench}'s psref pair with {@code DIAGNOSTIC} on (the default of the library: every
 * KASSERT of acquire/release evaluated), to show what the checks cost.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.HOST_THREADS, BenchSupport.HOST_THREADS_CLASS})
public class PsrefDiagnosticBench {
  @Benchmark
  @Threads(1)
  public void psrefDiagnostic1Thread(PsrefBench.Shared s, PsrefBench.OnCpu t) {
    PsrefBench.psrefPair(s, t);
  }

  @Benchmark
  @Threads(2)
  public void psrefDiagnostic2Threads(PsrefBench.Shared s, PsrefBench.OnCpu t) {
    PsrefBench.psrefPair(s, t);
  }
}
