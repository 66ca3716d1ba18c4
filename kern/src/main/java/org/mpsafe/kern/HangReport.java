package org.mpsafe.kern;

import java.util.List;

/**
 * What the watchdog saw when an LWP stayed blocked longer than the limit.
 *
 * @param lwp the LWP that was blocked too long
 * @param wchan what it waited on ({@code cpu} when it waited for a CPU)
 * @param blockedNanos how long it had been blocked
 * @param lwps every LWP of the machine at that moment, one line each
 */
public record HangReport(String lwp, String wchan, long blockedNanos, List<String> lwps) {
  public String headline() {
    return "hang: lwp " + lwp + " blocked on " + wchan + " for " + blockedNanos / 1_000_000
        + " ms";
  }
}
