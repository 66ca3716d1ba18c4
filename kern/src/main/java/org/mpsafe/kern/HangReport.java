package org.mpsafe.kern;

import java.util.List;

/**
 * What the watchdog saw when it stopped the machine: an LWP blocked longer than the limit, or a
 * stalled CPU (its owner not running on it, or no owner while LWPs wait for it).
 *
 * @param lwp the LWP that was blocked too long, or {@code -} for a stalled CPU
 * @param wchan what it waited on ({@code cpu} when it waited for a CPU)
 * @param blockedNanos how long it had been blocked (0 for a stalled CPU, reported at once)
 * @param lwps every LWP of the machine at that moment, one line each
 * @param cpus every CPU at that moment: owner, run queue, pinned LWP; then the unbound queue
 * @param stall the stalled CPUs, one description each, or null when an LWP was blocked too long
 */
public record HangReport(String lwp, String wchan, long blockedNanos, List<String> lwps,
    List<String> cpus, String stall) {

  public HangReport {
    lwps = List.copyOf(lwps);
    cpus = List.copyOf(cpus);
  }

  /** {@code hang: lwp X blocked on W for N ms}, or {@code hang: cpu stalled: ...}. */
  public String headline() {
    if (stall != null) {
      return "hang: " + stall;
    }
    return "hang: lwp " + lwp + " blocked on " + wchan + " for " + blockedNanos / 1_000_000
        + " ms";
  }
}
