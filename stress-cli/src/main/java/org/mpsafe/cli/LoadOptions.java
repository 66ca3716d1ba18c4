package org.mpsafe.cli;

import java.time.Duration;
import java.util.Locale;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.xcall.XcallAccounting;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The machine and load options that {@code repro} and {@code sweep} share: what the machine is
 * (CPUs, xcall accounting, deterministic or host-scheduled) and what runs on it.
 */
final class LoadOptions {
  @Option(names = "--bug", paramLabel = "ID", defaultValue = "kern-51632",
      description = "Which race of the catalog to run ('mpsafe list').")
  String bug;

  @Option(names = "--variant", paramLabel = "buggy|fixed",
      description = "The code path: buggy (the NetBSD code before the fix) or fixed. For "
          + "kern-51632 the same as --xcall legacy|fixed (default buggy).")
  String variant;

  @Option(names = "--xcall", paramLabel = "legacy|fixed",
      converter = ReproCommand.AccountingConverter.class,
      description = "Low-priority xcall accounting: legacy (xc_tailp, NetBSD 6/7: panics) or "
          + "fixed (xc_donep, the PR's fix); kern-51632's --variant. Default legacy.")
  XcallAccounting xcall;

  @Option(names = "--xc-wait-spin", paramLabel = "on|off", defaultValue = "on",
      description = "Whether xc_wait spins briefly on xc_donep before sleeping: on (the port's "
          + "default) or off (NetBSD's xc_wait: one check, then cv_wait).")
  String xcWaitSpin;

  @Option(names = "--cpus", paramLabel = "N", defaultValue = "4",
      description = "Virtual CPUs (1..64).")
  int cpus;

  @Option(names = "--interfaces", paramLabel = "N", defaultValue = "2",
      description = "Network interfaces (2..16).")
  int interfaces;

  @Option(names = "--churn-lwps", paramLabel = "N",
      description = "LWPs assigning/deleting addresses (>= 2; default: one per interface).")
  Integer churnLwps;

  @Option(names = "--duration", paramLabel = "TIME", defaultValue = "5m",
      converter = DurationConverter.class,
      description = "How long each trial runs at most (500ms, 30s, 5m, 1h30m, ...); virtual "
          + "time on the deterministic machine.")
  Duration duration;

  @Option(names = "--no-detectors",
      description = "Turn off the early-return and dead-frame detectors (they only observe).")
  boolean noDetectors;

  @Option(names = "--deterministic",
      description = "Run on the deterministic machine: one LWP at a time, every scheduling "
          + "choice drawn from the seed, virtual time; the run is replayable (mpsafe replay).")
  boolean deterministic;

  @Option(names = "--strategy", paramLabel = "random|pct[:D]",
      description = "How the deterministic machine picks the next LWP: random (uniform, the "
          + "default) or pct with bug depth D (default 3). Needs --deterministic.")
  String strategy;

  @Option(names = "--wall-cap", paramLabel = "TIME", converter = DurationConverter.class,
      description = "Deterministic machine: wall-clock safety net per trial (default: 10 x "
          + "--duration, at least 1m); a trial that hits it ends early and says so.")
  Duration wallCap;

  @Option(names = "--trace-events", paramLabel = "N", defaultValue = "4096",
      description = "Trace events kept per CPU (the panic report's timeline, --trace): the "
          + "last N of each CPU (16..1000000).")
  int traceEvents;

  /** Checks the options; a one-line usage error naming the first bad one. */
  void validate(CommandLine.Model.CommandSpec spec) {
    if (Catalog.find(bug).isEmpty()) {
      throw usage(spec, "Invalid value for option '--bug': '" + bug + "' (known: "
          + Catalog.ids() + "; see 'mpsafe list')");
    }
    if (variant != null && !variant.equals("buggy") && !variant.equals("fixed")) {
      throw usage(spec, "Invalid value for option '--variant': '" + variant
          + "' (buggy or fixed)");
    }
    if (xcall != null && !bug.equals(Catalog.KERN_51632)) {
      throw usage(spec, "Option '--xcall' selects kern-51632's variant; for '" + bug
          + "' use --variant buggy|fixed");
    }
    if (variant != null && xcall != null
        && (variant.equals("fixed")) != (xcall == XcallAccounting.FIXED_DONEP)) {
      throw usage(spec, "Options '--variant " + variant + "' and '--xcall "
          + (xcall == XcallAccounting.FIXED_DONEP ? "fixed" : "legacy") + "' disagree");
    }
    if (variant == null) {
      variant = xcall == XcallAccounting.FIXED_DONEP ? "fixed" : "buggy";
    }
    if (cpus < 1 || cpus > 64) {
      throw usage(spec, "Invalid value for option '--cpus': " + cpus + " (must be 1..64)");
    }
    if (interfaces < 2 || interfaces > 16) {
      throw usage(spec, "Invalid value for option '--interfaces': " + interfaces
          + " (must be 2..16: the PR needs destroys on two interfaces)");
    }
    if (churnLwps != null && (churnLwps < 2 || churnLwps > 64)) {
      throw usage(spec, "Invalid value for option '--churn-lwps': " + churnLwps
          + " (must be 2..64)");
    }
    if (!xcWaitSpin.equals("on") && !xcWaitSpin.equals("off")) {
      throw usage(spec, "Invalid value for option '--xc-wait-spin': '" + xcWaitSpin
          + "' (on or off)");
    }
    if (!deterministic && (strategy != null || wallCap != null)) {
      throw usage(spec, "Option '" + (strategy != null ? "--strategy" : "--wall-cap")
          + "' needs --deterministic");
    }
    if (strategy != null) {
      try {
        Deterministic.Strategy.parse(strategy);
      } catch (IllegalArgumentException e) {
        throw usage(spec, "Invalid value for option '--strategy': " + e.getMessage());
      }
    }
    if (traceEvents < 16 || traceEvents > 1_000_000) {
      throw usage(spec, "Invalid value for option '--trace-events': " + traceEvents
          + " (must be 16..1000000)");
    }
    if (wallCap != null && wallCap.isZero()) {
      throw usage(spec, "Invalid value for option '--wall-cap': must be more than 0");
    }
  }

  /** The strategy of a deterministic run, or null for a host-scheduled one. */
  Deterministic.Strategy strategyOrNull() {
    if (!deterministic) {
      return null;
    }
    return strategy == null ? Deterministic.Strategy.random()
        : Deterministic.Strategy.parse(strategy);
  }

  TrialRunner.Settings settings() {
    int lwps = churnLwps != null ? churnLwps : Math.max(2, interfaces);
    Duration cap = !deterministic ? Duration.ZERO : wallCap != null ? wallCap
        : max(duration.multipliedBy(10), Duration.ofMinutes(1));
    return new TrialRunner.Settings(bug, variant.equals("buggy"), xcWaitSpin.equals("on"), cpus,
        interfaces, lwps, duration, !noDetectors, Duration.ofSeconds(30), strategyOrNull(), cap,
        traceEvents);
  }

  /**
   * The header's description of the machine:
   * {@code bug=kern-51632 variant=buggy xcall=legacy ... duration=5m00s}.
   */
  static String describe(TrialRunner.Settings s) {
    return String.format(Locale.ROOT, "bug=%s variant=%s xcall=%s xc-wait-spin=%s cpus=%d "
            + "interfaces=%d churn-lwps=%d duration=%s",
        s.bug(), s.buggy() ? "buggy" : "fixed",
        s.xcall() == XcallAccounting.LEGACY_TAILP ? "legacy" : "fixed",
        s.xcWaitSpin() ? "on" : "off", s.cpus(), s.interfaces(), s.churnLwps(),
        DurationConverter.format(s.duration()));
  }

  /** What follows the header: {@code  deterministic strategy=random}, {@code  detectors=off}. */
  static String suffix(TrialRunner.Settings s) {
    return (s.strategy() == null ? "" : " deterministic strategy=" + s.strategy())
        + (s.detectors() ? "" : " detectors=off");
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  static CommandLine.ParameterException usage(CommandLine.Model.CommandSpec spec, String msg) {
    return new CommandLine.ParameterException(spec.commandLine(), msg);
  }
}
