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
    double elapsedS, List<TrialResult> trials, TrialResult.Outcome outcome, String build) {

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

  long hangs() {
    return trials.stream().filter(t -> t.outcome() == TrialResult.Outcome.HANG).count();
  }

  /** Times to panic (seconds), sorted. */
  double[] timesToPanic() {
    return timesTo(TrialResult.Outcome.PANIC);
  }

  /** Times (seconds) of the trials that ended in {@code o}, sorted. */
  double[] timesTo(TrialResult.Outcome o) {
    return trials.stream().filter(t -> t.outcome() == o)
        .mapToDouble(TrialResult::elapsedS).sorted().toArray();
  }

  /** min/median/p90/max of the time to panic, in seconds (HdrHistogram, ms resolution). */
  Map<String, Double> panicDistribution() {
    return distribution(timesToPanic());
  }

  /**
   * min/median/p90/max of the time to the watchdog's hang verdict, in seconds: the deadlock
   * plus the watchdog's limit (an LWP must have been blocked that long).
   */
  Map<String, Double> hangDistribution() {
    return distribution(timesTo(TrialResult.Outcome.HANG));
  }

  /**
   * min/median/p90/max of the time at which the reported LWP blocked, in seconds: the hang
   * verdict's time less how long that LWP had been blocked.
   */
  Map<String, Double> deadlockDistribution() {
    return distribution(trials.stream().filter(t -> t.outcome() == TrialResult.Outcome.HANG)
        .mapToDouble(t -> Math.max(0, t.elapsedS() - t.hang().blockedNanos() / 1e9))
        .sorted().toArray());
  }

  private static Map<String, Double> distribution(double[] t) {
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
    j.put("build", build);
    putSettings(j, settings);
    j.put("seed", seed);
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
    j.put("counters", countersJson(totals()));
    List<Map<String, Object>> tj = new ArrayList<>();
    for (TrialResult t : trials) {
      tj.add(trialJson(t));
    }
    j.put("trials", tj);
    TrialResult first = p != null ? p : trials.isEmpty() ? null : trials.get(0);
    j.put("schedule", first == null ? null : scheduleJson(first));
    Map<String, Double> d = panicDistribution();
    if (!d.isEmpty()) {
      j.put("time_to_panic_s", d);
    }
    Map<String, Double> h = hangDistribution();
    if (!h.isEmpty()) {
      j.put("time_to_hang_s", h);
      j.put("time_to_deadlock_s", deadlockDistribution());
    }
    return j;
  }

  /**
   * The options a trial was run with, as {@code mpsafe replay} reads them back: xcall,
   * xc_wait_spin, detectors, cpus, interfaces, churn_lwps, duration_s, mode, strategy.
   */
  static void putSettings(Map<String, Object> j, TrialRunner.Settings s) {
    j.put("bug", s.bug());
    j.put("variant", s.buggy() ? "buggy" : "fixed");
    j.put("xcall", s.xcall() == XcallAccounting.LEGACY_TAILP ? "legacy" : "fixed");
    j.put("xc_wait_spin", s.xcWaitSpin());
    j.put("detectors", s.detectors());
    j.put("cpus", s.cpus());
    j.put("interfaces", s.interfaces());
    j.put("churn_lwps", s.churnLwps());
    j.put("duration_s", s.duration().toMillis() / 1000.0);
    j.put("mode", s.strategy() == null ? "host" : "deterministic");
    j.put("strategy", s.strategy() == null ? null : s.strategy().toString());
    j.put("trace_events", s.traceEvents());
  }

  /** One trial: outcome, time, seed, its schedule (deterministic) and its panic or hang. */
  static Map<String, Object> trialJson(TrialResult t) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("outcome", t.outcome().json());
    m.put("elapsed_s", round(t.elapsedS()));
    m.put("wall_s", round(t.wallS()));
    m.put("seed", t.seed());
    m.put("schedule", scheduleJson(t));
    if (t.schedule() != null) {
      m.put("budget_ns", t.budgetNanos());
    }
    if (t.wallCapHit()) {
      m.put("wall_cap_hit", true);
    }
    if (t.panic() != null) {
      Map<String, Object> pj = new LinkedHashMap<>();
      pj.put("message", t.panic().message());
      pj.put("cpu", t.panic().cpu());
      pj.put("lwp", t.panic().lwp());
      pj.put("time_s", round(t.panic().elapsedNanos() / 1e9));
      m.put("panic", pj);
    }
    if (t.hang() != null) {
      m.put("hang", t.hang().headline());
    }
    m.put("counters", countersJson(t.counters()));
    return m;
  }

  static Map<String, Object> countersJson(TrialResult.Counters c) {
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
    cj.put("churn_cycles", c.churnCycles());
    cj.put("if_detaches", c.ifDetaches());
    return cj;
  }

  /** {@code {mode, strategy, seed, steps, digest, virtual_ns}}, or {@code {mode: host}}. */
  static Map<String, Object> scheduleJson(TrialResult t) {
    Map<String, Object> m = new LinkedHashMap<>();
    if (t.schedule() == null) {
      m.put("mode", "host");
      return m;
    }
    m.put("mode", t.schedule().mode());
    m.put("strategy", t.schedule().strategy());
    m.put("seed", t.schedule().seed());
    m.put("steps", t.schedule().steps());
    m.put("digest", t.schedule().digest());
    m.put("virtual_ns", t.schedule().virtualNanos());
    return m;
  }

  static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
