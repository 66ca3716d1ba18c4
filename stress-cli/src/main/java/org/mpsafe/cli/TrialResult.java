package org.mpsafe.cli;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.mpsafe.kern.HangReport;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Schedule;
import org.mpsafe.kern.Trace;
import org.mpsafe.psref.UseAfterReturn;
import org.mpsafe.xcall.EarlyReturn;

/**
 * One boot of the machine under the PR's load, from boot to panic, hang, interrupt or the end
 * of its time. {@code elapsedS} is the trial's time: wall-clock on the host-scheduled machine,
 * virtual on the deterministic one, whose {@code schedule} says what decided it ({@code wallS}
 * is the wall-clock time either way).
 */
record TrialResult(
    Outcome outcome, long seed, double elapsedS, Panic panic, HangReport hang,
    List<EarlyReturn> earlyReturns, List<UseAfterReturn> deadFrameReads, Counters counters,
    List<Sample> samples, Map<Integer, String> lwpNames, Schedule schedule, double wallS,
    boolean wallCapHit, long budgetNanos, List<Trace.Event> trace) {

  enum Outcome {
    PANIC, CLEAN, HANG, INTERRUPTED;

    String json() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** The counters the summary, the status line and the JSON report show. */
  record Counters(
      long packetsForwarded, long packetsTotal, long noroute, long qdrops, long addressesAdded,
      long addressesDeleted, long rtDestroys, long ifaDestroys, long xcLowpri, long xcHighpri,
      long xcEarlyReturns, long deadFrameReads, long churnCycles, long ifDetaches) {

    Counters plus(Counters o) {
      return new Counters(packetsForwarded + o.packetsForwarded, packetsTotal + o.packetsTotal,
          noroute + o.noroute, qdrops + o.qdrops, addressesAdded + o.addressesAdded,
          addressesDeleted + o.addressesDeleted, rtDestroys + o.rtDestroys,
          ifaDestroys + o.ifaDestroys, xcLowpri + o.xcLowpri, xcHighpri + o.xcHighpri,
          xcEarlyReturns + o.xcEarlyReturns, deadFrameReads + o.deadFrameReads,
          churnCycles + o.churnCycles, ifDetaches + o.ifDetaches);
    }

    static final Counters ZERO = new Counters(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  /** A point of the time series: seconds since the run began, rates over the last interval. */
  record Sample(double t, double forwardedPerS, double churnPerS, long rtDestroys,
      long ifaDestroys, long earlyReturns) {}
}
