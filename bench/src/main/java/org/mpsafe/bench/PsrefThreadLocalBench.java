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
 * {@link PsrefBench}'s psref pair on JMH's own (plain) worker threads: adopted through a
 * {@code ThreadLocal}, each {@code curlwp()} is a {@code ThreadLocal} lookup. Shows what the
 * {@link org.mpsafe.kern.HostThread} adoption the other benchmarks use saves. DIAGNOSTIC off.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NODIAGNOSTIC)
public class PsrefThreadLocalBench {
  @Benchmark
  @Threads(1)
  public void psrefThreadLocal1Thread(PsrefBench.Shared s, PsrefBench.OnCpu t) {
    PsrefBench.psrefPair(s, t);
  }

  @Benchmark
  @Threads(2)
  public void psrefThreadLocal2Threads(PsrefBench.Shared s, PsrefBench.OnCpu t) {
    PsrefBench.psrefPair(s, t);
  }
}
