package org.mpsafe.kern;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * How to boot a {@link Machine}. Options of other modules (e.g. the xcall accounting) travel in
 * {@link #option}, keyed by the module's own constant.
 *
 * @param ncpu number of virtual CPUs, 1..64
 * @param hz clock ticks per second ({@code hz}), 1..10000
 * @param traceSize events kept per CPU in the trace ring; 0 turns tracing off
 * @param watchdog an LWP blocked longer than this is reported as a hang; zero turns it off
 * @param options options of other modules
 */
public record MachineConfig(
    int ncpu, int hz, int traceSize, Duration watchdog, Map<String, Object> options) {

  public MachineConfig {
    if (ncpu < 1 || ncpu > 64) {
      throw new IllegalArgumentException("ncpu must be in [1, 64]: " + ncpu);
    }
    if (hz < 1 || hz > 10_000) {
      throw new IllegalArgumentException("hz must be in [1, 10000]: " + hz);
    }
    if (traceSize < 0) {
      throw new IllegalArgumentException("traceSize must be >= 0: " + traceSize);
    }
    if (watchdog == null || watchdog.isNegative()) {
      throw new IllegalArgumentException("watchdog must be >= 0: " + watchdog);
    }
    options = Map.copyOf(options);
  }

  /** {@code ncpu} CPUs, hz 100, 256 trace events per CPU, watchdog 60 s. */
  public static MachineConfig of(int ncpu) {
    return new MachineConfig(ncpu, 100, 256, Duration.ofSeconds(60), Map.of());
  }

  public MachineConfig withHz(int hz) {
    return new MachineConfig(ncpu, hz, traceSize, watchdog, options);
  }

  public MachineConfig withTraceSize(int n) {
    return new MachineConfig(ncpu, hz, n, watchdog, options);
  }

  public MachineConfig withWatchdog(Duration d) {
    return new MachineConfig(ncpu, hz, traceSize, d, options);
  }

  public MachineConfig withOption(String key, Object value) {
    Map<String, Object> m = new HashMap<>(options);
    m.put(key, value);
    return new MachineConfig(ncpu, hz, traceSize, watchdog, m);
  }

  /** The option {@code key}, or {@code dflt}. */
  @SuppressWarnings("unchecked")
  public <T> T option(String key, T dflt) {
    Object v = options.get(key);
    return v == null ? dflt : (T) v;
  }
}
