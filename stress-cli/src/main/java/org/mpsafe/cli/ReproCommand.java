package org.mpsafe.cli;

import com.google.common.base.Stopwatch;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.mpsafe.xcall.XcallAccounting;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code repro}: PR kern/51632's reproduction steps as a program. Boot a machine of virtual
 * CPUs, configure interfaces and addresses, enable forwarding, send traffic on every CPU,
 * assign and delete addresses in a loop, and wait for the panic (legacy xcall accounting) or
 * for the time to run out (fixed).
 */
@Command(name = "repro", mixinStandardHelpOptions = true, sortOptions = false,
    versionProvider = MpsafeCli.Version.class, showDefaultValues = true,
    description = {
      "Reproduce a NetBSD MP race of the catalog ('mpsafe list'; default: PR kern/51632, "
          + "where forwarding traffic plus address churn drives psref_target_destroy through "
          + "low-priority xcall on every CPU).",
      "With --variant buggy the entry's old NetBSD code runs and ends in its symptom (for "
          + "kern/51632, --xcall legacy: \"mismatched psref target class: 0x0 (ref) != 0x2 "
          + "(expected)\"); with --variant fixed the same load runs clean."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:clean run (or the outcome --expect asked for)",
      "1:panic (or not the outcome --expect asked for)",
      "2:usage error (bad option or unwritable output file); nothing was started",
      "3:hang detected by the watchdog",
      "4:internal error",
      "130:interrupted (Ctrl-C); summary and files are still written"})
final class ReproCommand implements Callable<Integer> {
  /** The outcomes {@code --expect} takes (repro and sweep). */
  static final Set<String> EXPECTED = Set.of("panic", "hang", "clean");

  @Spec CommandLine.Model.CommandSpec spec;

  @Mixin LoadOptions load;

  @Option(names = "--seed", paramLabel = "N",
      description = "Seed of the workload's random choices (default: random; always printed).")
  Long seed;

  @Option(names = "--trials", paramLabel = "N", defaultValue = "1",
      description = "Independent runs; prints the distribution of time to panic.")
  int trials;

  @Option(names = "--keep-going",
      description = "After a panic, reboot and go on until --duration; count the panics.")
  boolean keepGoing;

  @Option(names = "--expect", paramLabel = "panic|hang|clean",
      description = "Exit 0 if every trial has this outcome, 1 otherwise (for CI and git "
          + "bisect).")
  String expect;

  @Option(names = "--json", paramLabel = "FILE", description = "Write the summary as JSON.")
  Path json;

  @Option(names = "--trace", paramLabel = "FILE.json",
      description = "Write the trial's last trace events (the first that panicked, else the "
          + "last) in the Chrome/Perfetto trace-event format: a track per CPU, LWP runs as "
          + "slices, xcall tickets as flows, the early return, dead-frame read and panic as "
          + "instants. Bounded by --trace-events per CPU.")
  Path trace;

  @Option(names = "--report", paramLabel = "FILE.html",
      description = "Write a self-contained HTML report with plots.")
  Path report;

  @Option(names = "--jfr", paramLabel = "FILE",
      description = "Record mpsafe's JFR events (xcall jobs, early returns, psref destroys, "
          + "address changes, panic) to FILE for JDK Mission Control.")
  Path jfr;

  @Option(names = "--quiet", description = "No live status line.")
  boolean quiet;

  private final PrintStream out;
  private final PrintStream err;
  private final Interrupt interrupt;

  /** Ctrl-C: set by the shutdown hook; the run stops, reports, then releases the hook. */
  static final class Interrupt {
    volatile boolean requested;
    final CountDownLatch reported = new CountDownLatch(1);
  }

  ReproCommand(PrintStream out, PrintStream err, Interrupt interrupt) {
    this.out = out;
    this.err = err;
    this.interrupt = interrupt;
  }

  static final class AccountingConverter implements CommandLine.ITypeConverter<XcallAccounting> {
    @Override
    public XcallAccounting convert(String v) {
      try {
        return XcallAccounting.parse(v);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException("'" + v + "' is not legacy or fixed");
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    validate();
    long runSeed = seed != null ? seed : new SplittableRandom().nextLong() >>> 1;
    TrialRunner.Settings settings = load.settings();
    Duration duration = settings.duration();
    out.printf(Locale.ROOT, "mpsafe repro: %s trials=%d seed=%d%s%n",
        LoadOptions.describe(settings), trials, runSeed, LoadOptions.suffix(settings));
    JfrSession jfrSession = jfr != null ? JfrSession.start(jfr) : null;
    StatusLine status = new StatusLine(err, StatusLine.isTerminal(), quiet, 10,
        duration.toMillis() / 1000.0);
    if (settings.strategy() != null) {
      status.virtual();
    }
    TrialRunner runner = new TrialRunner(settings);
    List<TrialResult> results = new ArrayList<>();
    SplittableRandom seeds = new SplittableRandom(runSeed);
    Stopwatch run = Stopwatch.createStarted();
    try {
      for (int i = 0; i < trials && !interrupt.requested; i++) {
        long trialSeed = i == 0 ? runSeed : seeds.nextLong() >>> 1;
        long deadline = System.nanoTime() + duration.toNanos();
        long virtualLeft = duration.toNanos();
        do {
          status.trial(results.size() + 1, (int) results.stream()
              .filter(r -> r.outcome() == TrialResult.Outcome.PANIC).count());
          TrialResult r = runner.run(trialSeed, deadline, virtualLeft, () -> interrupt.requested,
              status);
          virtualLeft -= (long) (r.elapsedS() * 1e9);
          if (r.wallCapHit()) {
            out.printf(Locale.ROOT, "trial ended on the wall-clock cap (--wall-cap %s) at %.3f s "
                + "virtual%n", DurationConverter.format(settings.wallCap()), r.elapsedS());
          }
          results.add(r);
          status.clear();
          printTrial(r);
          trialSeed = seeds.nextLong() >>> 1;
        } while (keepGoing && results.get(results.size() - 1).outcome()
            == TrialResult.Outcome.PANIC && !interrupt.requested
            && (settings.strategy() != null ? virtualLeft > 0 : System.nanoTime() < deadline));
      }
      double elapsed = TrialRunner.seconds(run);
      RunReport report = new RunReport(settings, runSeed, trials, keepGoing, elapsed, results,
          RunReport.overall(results, interrupt.requested), BuildId.get());
      printSummary(report);
      writeFiles(report, jfrSession);
      return exitCode(report);
    } finally {
      status.clear();
      interrupt.reported.countDown();
    }
  }

  private void validate() {
    load.validate(spec);
    if (trials < 1 || trials > 10_000) {
      throw usage("Invalid value for option '--trials': " + trials + " (must be 1..10000)");
    }
    if (expect != null && !EXPECTED.contains(expect)) {
      throw usage("Invalid value for option '--expect': '" + expect + "' (panic, hang or "
          + "clean)");
    }
    checkWritable("--json", json);
    checkWritable("--report", report);
    checkWritable("--trace", trace);
    checkWritable("--jfr", jfr);
  }

  private void checkWritable(String opt, Path p) {
    if (p == null) {
      return;
    }
    Path abs = p.toAbsolutePath();
    Path dir = abs.getParent();
    String why = null;
    if (Files.isDirectory(abs)) {
      why = "is a directory";
    } else if (dir == null || !Files.isDirectory(dir)) {
      why = "directory " + dir + " does not exist";
    } else if (Files.exists(abs) ? !Files.isWritable(abs) : !Files.isWritable(dir)) {
      why = "is not writable";
    }
    if (why != null) {
      throw usage("Cannot write " + opt + " file '" + p + "': " + why);
    }
  }

  private CommandLine.ParameterException usage(String msg) {
    return new CommandLine.ParameterException(spec.commandLine(), msg);
  }

  /**
   * The exit code. With --expect: 0 when every run had the expected outcome (every run
   * panicked for "panic", every run hung for "hang"; none panicked or hung for "clean"),
   * else 1.
   */
  private int exitCode(RunReport r) {
    TrialResult.Outcome o = r.outcome();
    if (expect != null && o != TrialResult.Outcome.INTERRUPTED) {
      int n = r.trials().size();
      boolean ok = switch (expect) {
        case "panic" -> n > 0 && r.panics() == n;
        case "hang" -> n > 0 && r.hangs() == n;
        default -> o == TrialResult.Outcome.CLEAN;
      };
      return ok ? 0 : 1;
    }
    switch (o) {
      case CLEAN:
        return 0;
      case PANIC:
        return 1;
      case HANG:
        return 3;
      default:
        return 130;
    }
  }

  private Catalog.Entry entry() {
    return Catalog.get(load.bug);
  }

  private void printTrial(TrialResult r) {
    if (r.outcome() == TrialResult.Outcome.PANIC) {
      out.println();
      for (String line : PanicReport.lines(r, !load.noDetectors, entry())) {
        out.println(line);
      }
      out.println();
    } else if (r.outcome() == TrialResult.Outcome.HANG) {
      out.println(r.hang().headline());
      for (String l : r.hang().lwps()) {
        out.println("  " + l);
      }
      for (String c : r.hang().cpus()) {
        out.println("  " + c);
      }
      for (String line : PanicReport.story(entry())) {
        out.println(line);
      }
    }
    if (trials > 1 || keepGoing) {
      out.printf(Locale.ROOT, "trial %s after %.3f s (seed %d)%n", r.outcome().json(),
          r.elapsedS(), r.seed());
    }
  }

  private void printSummary(RunReport r) {
    TrialResult.Counters c = r.totals();
    out.println("summary");
    row("outcome", r.outcome().json() + (r.trials().size() > 1 ? " (" + r.panics() + " of "
        + r.trials().size() + " runs panicked" + (r.hangs() > 0 ? ", " + r.hangs() + " hung"
        : "") + ")" : ""));
    row("elapsed", String.format(Locale.ROOT, "%.2f s", r.elapsedS()));
    row("packets forwarded", c.packetsForwarded() + String.format(Locale.ROOT, " (%s/s)",
        StatusLine.human(c.packetsForwarded() / Math.max(1e-9, r.elapsedS()))));
    row("packets in / noroute / dropped", c.packetsTotal() + " / " + c.noroute() + " / "
        + c.qdrops());
    row("addresses added / deleted", c.addressesAdded() + " / " + c.addressesDeleted());
    row("destroys rtentry / ifaddr", c.rtDestroys() + " / " + c.ifaDestroys());
    if (c.ifDetaches() > 0) {
      row("interfaces detached", String.valueOf(c.ifDetaches()));
    }
    row("xcalls low / high priority", c.xcLowpri() + " / " + c.xcHighpri());
    row("xc_wait early returns", load.noDetectors ? "n/a (--no-detectors)"
        : String.valueOf(c.xcEarlyReturns()));
    row("dead frame reads", load.noDetectors ? "n/a" : String.valueOf(c.deadFrameReads()));
    row("panics", String.valueOf(r.panics()));
    Map<String, Double> d = r.panicDistribution();
    if (!d.isEmpty() && r.trials().size() > 1) {
      row("time to panic", spread(d));
    }
    Map<String, Double> h = r.hangDistribution();
    if (!h.isEmpty()) {
      row("time to hang (watchdog verdict)", spread(h));
      row("time to deadlock (LWP blocked)", spread(r.deadlockDistribution()));
    }
  }

  private static String spread(Map<String, Double> d) {
    return String.format(Locale.ROOT, "min %.3f s  median %.3f s  p90 %.3f s  max %.3f s",
        d.get("min"), d.get("median"), d.get("p90"), d.get("max"));
  }

  private void row(String k, String v) {
    out.printf(Locale.ROOT, "  %-32s %s%n", k, v);
  }

  private void writeFiles(RunReport r, JfrSession jfrSession) throws IOException {
    if (json != null) {
      JsonReport.write(r, json);
      out.println("wrote " + json);
    }
    if (report != null) {
      HtmlReport.write(r, report);
      out.println("wrote " + report);
    }
    if (trace != null && !r.trials().isEmpty()) {
      TrialResult t = r.trials().stream()
          .filter(x -> x.outcome() == TrialResult.Outcome.PANIC).findFirst()
          .orElse(r.trials().get(r.trials().size() - 1));
      ChromeTrace.write(t, r.settings(), trace);
      out.println("wrote " + trace + " (open it in ui.perfetto.dev or chrome://tracing)");
    }
    if (jfrSession != null) {
      jfrSession.stop();
      out.println("wrote " + jfr + " (open it in JDK Mission Control; events under 'mpsafe')");
    }
  }

  /** Waits (bounded) for the run to report after Ctrl-C. */
  static void awaitReport(Interrupt i) {
    try {
      i.reported.await(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
