package org.mpsafe.bench;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;

/** Boot/enter/shutdown helpers shared by the benchmark states. */
final class BenchSupport {
  private BenchSupport() {}

  /** The JVM flag that turns {@code DIAGNOSTIC} off (see {@link org.mpsafe.kern.Kassert}). */
  static final String NODIAGNOSTIC = "-Dmpsafe.nodiagnostic=true";
  /** JMH's worker threads are {@link org.mpsafe.kern.HostThread}s (see HostThreadExecutor). */
  static final String HOST_THREADS = "-Djmh.executor=CUSTOM";
  static final String HOST_THREADS_CLASS =
      "-Djmh.executor.class=org.mpsafe.bench.HostThreadExecutor";

  /** Boots a machine of {@code ncpu} CPUs with the watchdog off (a benchmark may idle long). */
  static Machine boot(MachineConfig c) {
    return Machine.boot(c.withWatchdog(Duration.ZERO));
  }

  static MachineConfig config(int ncpu) {
    return MachineConfig.of(ncpu);
  }

  /**
   * Enters {@code m} bound to the next CPU of {@code next} (one CPU per benchmark thread, so the
   * threads never wait for each other's CPU).
   */
  static Machine.Entry enterNextCpu(Machine m, AtomicInteger next, String what) {
    int i = next.getAndIncrement();
    if (i >= m.ncpu()) {
      throw new IllegalStateException(what + ": more benchmark threads than CPUs (" + m.ncpu()
          + "); run with fewer threads");
    }
    return m.enter(what + "/" + i, m.cpu(i));
  }

  /** Shuts {@code m} down; fails if it panicked or left a thread behind. */
  static void shutdown(Machine m) {
    if (m == null) {
      return;
    }
    List<String> alive = m.shutdown();
    if (m.panic().isPresent()) {
      throw new IllegalStateException("machine panicked: " + m.panic().get());
    }
    if (!alive.isEmpty()) {
      throw new IllegalStateException("threads left after shutdown: " + alive);
    }
  }
}
