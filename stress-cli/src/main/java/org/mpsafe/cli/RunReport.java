package org.mpsafe.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.mpsafe.xcall.XcallAccounting;

/** Everything a repro run produced: settings, every trial, and the overall outcome. */
record RunReport(
    TrialRunner.Settings settings, long seed, int trialsAsked, boolean keepGoing,
    double elapsedS, List<TrialResult> trials, TrialResult.Outcome outcome) {

  static final String SCHEMA = "mpsafe-repro/1";

  static TrialResult.Outcome overall(List<TrialResult> trials, boolean interrupted) {
    if (trials.stream().anyMatch(t -> t.outcome() == TrialResult.Outcome.HANG)) {
      return TrialResult.Outcome.HANG;
    }
    if (trials.stream().anyMatch(t -> t.outcome() == TrialResult.Outcome.PANIC)) {
      return TrialResult.Outcome.PANIC;
    }
    return interrupted ? TrialResult.Outcome.INTERRUPTED : TrialResult.Outcome.CLEAN;
  }

  TrialResult.Counters totals() {
    TrialResult.Counters c = TrialResult.Counters.ZERO;
    for (TrialResult t : trials) {
      c = c.plus(t.counters());
    }
    return c;
  }

  long panics() {
    return trials.stream().filter(t -> t.outcome() == TrialResult.Outcome.PANIC).count();
  }

  /** The first panicked trial, or null. */
  TrialResult firstPanic() {
    return trials.stream().filter(t -> t.panic() != null).findFirst().orElse(null);
  }

  /** Times to panic (seconds), sorted. */
  double[] timesToPanic() {
    return trials.stream().filter(t -> t.outcome() == TrialResult.Outcome.PANIC)
        .mapToDouble(TrialResult::elapsedS).sorted().toArray();
  }

  /** min/median/p90/max of the time to panic, in seconds (HdrHistogram, ms resolution). */
  Map<String, Double> panicDistribution() {
    double[] t = timesToPanic();
    Map<String, Double> m = new LinkedHashMap<>();
    if (t.length == 0) {
      return m;
    }
    Histogram h = new Histogram(3);
    for (double s : t) {
      h.recordValue(Math.max(1, Math.round(s * 1000)));
    }
    m.put("min", h.getMinValue() / 1000.0);
    m.put("median", h.getValueAtPercentile(50) / 1000.0);
    m.put("p90", h.getValueAtPercentile(90) / 1000.0);
    m.put("max", h.getMaxValue() / 1000.0);
    m.put("mean", Arrays.stream(t).average().orElse(0));
    return m;
  }

  /** The JSON document of --json (schema in the issue; see docs). */
  Map<String, Object> toJson() {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("schema", SCHEMA);
    j.put("xcall", settings.xcall() == XcallAccounting.LEGACY_TAILP ? "legacy" : "fixed");
    j.put("xc_wait_spin", settings.xcWaitSpin());
    j.put("detectors", settings.detectors());
    j.put("cpus", settings.cpus());
    j.put("interfaces", settings.interfaces());
    j.put("churn_lwps", settings.churnLwps());
    j.put("seed", seed);
    j.put("duration_s", settings.duration().toMillis() / 1000.0);
    j.put("elapsed_s", round(elapsedS));
    j.put("outcome", outcome.json());
    TrialResult p = firstPanic();
    if (p != null) {
      Map<String, Object> pj = new LinkedHashMap<>();
      pj.put("message", p.panic().message());
      pj.put("cpu", p.panic().cpu());
      pj.put("lwp", p.panic().lwp());
      pj.put("time_s", round(p.elapsedS()));
      pj.put("cause", PanicReport.causeLine(p));
      j.put("panic", pj);
    } else {
      j.put("panic", null);
    }
    TrialResult.Counters c = totals();
    Map<String, Object> cj = new LinkedHashMap<>();
    cj.put("packets_forwarded", c.packetsForwarded());
    cj.put("addresses_added", c.addressesAdded());
    cj.put("addresses_deleted", c.addressesDeleted());
    cj.put("rt_destroys", c.rtDestroys());
    cj.put("ifa_destroys", c.ifaDestroys());
    cj.put("xc_lowpri", c.xcLowpri());
    cj.put("xc_highpri", c.xcHighpri());
    cj.put("xc_early_returns", c.xcEarlyReturns());
    cj.put("dead_frame_reads", c.deadFrameReads());
    j.put("counters", cj);
    List<Map<String, Object>> tj = new ArrayList<>();
    for (TrialResult t : trials) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("outcome", t.outcome().json());
      m.put("elapsed_s", round(t.elapsedS()));
      m.put("seed", t.seed());
      tj.add(m);
    }
    j.put("trials", tj);
    Map<String, Double> d = panicDistribution();
    if (!d.isEmpty()) {
      j.put("time_to_panic_s", d);
    }
    return j;
  }

  static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
