package org.mpsafe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sweep}: one deterministic trial per seed of a range, one JSON line each. A shard
 * {@code K/M} takes the seeds {@code A + K - 1}, {@code A + K - 1 + M}, ...; shards are
 * independent, so a batch system (a CI matrix, GNU parallel, a Kubernetes Job array) runs
 * them side by side and the JSON lines are concatenated afterwards.
 */
@Command(name = "sweep", mixinStandardHelpOptions = true, sortOptions = false,
    versionProvider = MpsafeCli.Version.class, showDefaultValues = true,
    description = {
      "Run one deterministic trial of the PR kern/51632 load per seed and write one JSON line "
          + "per trial (replayable with 'mpsafe replay FILE --seed N').",
      "Shards are independent: spread them with a CI matrix or a job array."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:every trial clean (or the outcome --expect asked for in every trial)",
      "1:a trial panicked (or one did not have the outcome --expect asked for)",
      "2:usage error; nothing was started",
      "3:a trial hung",
      "4:internal error",
      "130:interrupted (Ctrl-C); the lines written so far stay"})
final class SweepCommand implements Callable<Integer> {
  static final String SCHEMA = "mpsafe-sweep/1";
  private static final Pattern SEEDS = Pattern.compile("(\\d{1,18})\\.\\.(\\d{1,18})");
  private static final Pattern SHARD = Pattern.compile("(\\d{1,9})/(\\d{1,9})");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Spec CommandLine.Model.CommandSpec spec;

  @Mixin LoadOptions load;

  @Option(names = "--seeds", paramLabel = "A..B", required = true,
      description = "The seeds, both ends included (e.g. 1..1000).")
  String seeds;

  @Option(names = "--shard", paramLabel = "K/M", defaultValue = "1/1",
      description = "Run only shard K of M (1 <= K <= M): every M-th seed from A + K - 1.")
  String shard;

  @Option(names = "--jsonl", paramLabel = "FILE", required = true,
      description = "Write one JSON line per trial to FILE (replaced if it exists).")
  Path jsonl;

  @Option(names = "--expect", paramLabel = "panic|hang|clean",
      description = "Exit 0 if every trial had this outcome, 1 otherwise.")
  String expect;

  @Option(names = "--quiet", description = "No live progress line.")
  boolean quiet;

  private final PrintStream out;
  private final PrintStream err;
  private final ReproCommand.Interrupt interrupt;

  SweepCommand(PrintStream out, PrintStream err, ReproCommand.Interrupt interrupt) {
    this.out = out;
    this.err = err;
    this.interrupt = interrupt;
  }

  @Override
  public Integer call() throws Exception {
    load.deterministic = true;
    load.validate(spec);
    Matcher sm = SEEDS.matcher(seeds.trim());
    if (!sm.matches() || Long.parseLong(sm.group(1)) > Long.parseLong(sm.group(2))) {
      throw usage("Invalid value for option '--seeds': '" + seeds + "' (A..B with 0 <= A <= B)");
    }
    long a = Long.parseLong(sm.group(1));
    long b = Long.parseLong(sm.group(2));
    Matcher km = SHARD.matcher(shard.trim());
    int k = km.matches() ? Integer.parseInt(km.group(1)) : 0;
    int m = km.matches() ? Integer.parseInt(km.group(2)) : 0;
    if (k < 1 || m < 1 || k > m) {
      throw usage("Invalid value for option '--shard': '" + shard + "' (K/M with 1 <= K <= M)");
    }
    if (expect != null && !ReproCommand.EXPECTED.contains(expect)) {
      throw usage("Invalid value for option '--expect': '" + expect + "' (panic, hang or "
          + "clean)");
    }
    if (jsonl.toAbsolutePath().getParent() == null
        || !Files.isDirectory(jsonl.toAbsolutePath().getParent())
        || Files.isDirectory(jsonl)) {
      throw usage("Cannot write --jsonl file '" + jsonl + "': no such directory or a directory");
    }
    TrialRunner.Settings settings = load.settings();
    long count = a + k - 1 > b ? 0 : (b - (a + k - 1)) / m + 1;
    out.printf(Locale.ROOT, "mpsafe sweep: %s seeds=%d..%d shard=%d/%d (%d trials)%s%n",
        LoadOptions.describe(settings), a, b, k, m, count, LoadOptions.suffix(settings));
    TrialRunner runner = new TrialRunner(settings);
    TrialRunner.Progress silent = (t, c, f) -> { };
    int panics = 0;
    int hangs = 0;
    int clean = 0;
    int done = 0;
    String build = BuildId.get();
    try (BufferedWriter w = Files.newBufferedWriter(jsonl)) {
      for (long seed = a + k - 1; seed <= b && !interrupt.requested; seed += m) {
        if (!quiet) {
          err.printf(Locale.ROOT, "[sweep %d/%d seed %d] panics %d clean %d hangs %d%n",
              done + 1, count, seed, panics, clean, hangs);
        }
        TrialResult r = runner.run(seed, 0, settings.duration().toNanos(),
            () -> interrupt.requested, silent);
        switch (r.outcome()) {
          case PANIC -> panics++;
          case HANG -> hangs++;
          case CLEAN -> clean++;
          default -> { }
        }
        done++;
        w.write(MAPPER.writeValueAsString(line(build, settings, r)));
        w.newLine();
        w.flush();
        if (seed > Long.MAX_VALUE - m) {
          break;
        }
      }
    }
    out.printf(Locale.ROOT, "sweep: %d trials: %d panicked, %d clean, %d hung; wrote %s%n",
        done, panics, clean, hangs, jsonl);
    if (interrupt.requested) {
      return 130;
    }
    if (expect != null) {
      boolean ok = switch (expect) {
        case "panic" -> panics == done;
        case "hang" -> hangs == done;
        default -> panics == 0 && hangs == 0;
      };
      return ok ? 0 : 1;
    }
    return hangs > 0 ? 3 : panics > 0 ? 1 : 0;
  }

  /** One JSON line: schema, build, the options, then the trial (as in repro's trials). */
  static Map<String, Object> line(String build, TrialRunner.Settings s, TrialResult r) {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("schema", SCHEMA);
    j.put("build", build);
    RunReport.putSettings(j, s);
    j.putAll(RunReport.trialJson(r));
    return j;
  }

  private CommandLine.ParameterException usage(String msg) {
    return LoadOptions.usage(spec, msg);
  }
}
