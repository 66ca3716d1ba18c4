package org.mpsafe.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.mpsafe.kern.Deterministic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code replay FILE}: reruns a trial recorded on the deterministic machine (a {@code repro
 * --deterministic --json} summary or a {@code sweep} JSON line) with its recorded options and
 * seed, and says whether the schedule's digest and the outcome match.
 */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
    versionProvider = MpsafeCli.Version.class,
    description = {
      "Rerun a deterministic trial from its JSON record (repro --deterministic --json FILE, or "
          + "a line of sweep --jsonl FILE) and check that it happens again: same schedule "
          + "digest, same outcome, same panic on the same CPU and LWP at the same step."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:the replay matched the record",
      "1:it did not (the differences are printed)",
      "2:the file is not a deterministic trial record of this build, or a usage error",
      "4:internal error"})
final class ReplayCommand implements Callable<Integer> {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Spec CommandLine.Model.CommandSpec spec;

  @Parameters(paramLabel = "FILE", description = "The JSON record (repro) or JSON lines (sweep).")
  Path file;

  @Option(names = "--trial", paramLabel = "N",
      description = "Which trial of a repro record (1-based; default: the first that "
          + "panicked, else the first).")
  Integer trial;

  @Option(names = "--seed", paramLabel = "N",
      description = "Which line of a sweep file (default: the first that panicked, else the "
          + "first).")
  Long seed;

  private final PrintStream out;

  ReplayCommand(PrintStream out) {
    this.out = out;
  }

  /** The trial to rerun: its options, seed, budget and what it recorded. */
  record Recorded(TrialRunner.Settings settings, long seed, long budgetNanos, JsonNode trial) {}

  @Override
  public Integer call() throws Exception {
    Recorded rec = read();
    TrialRunner.Settings s = rec.settings();
    out.printf(Locale.ROOT, "mpsafe replay: %s seed=%d%s (from %s)%n",
        LoadOptions.describe(s), rec.seed(), LoadOptions.suffix(s), file);
    TrialResult r = new TrialRunner(s).run(rec.seed(), 0, rec.budgetNanos(), () -> false,
        (t, c, f) -> { });
    if (r.outcome() == TrialResult.Outcome.PANIC) {
      out.println();
      for (String line : PanicReport.lines(r, s.detectors(), Catalog.get(s.bug()))) {
        out.println(line);
      }
      out.println();
    } else if (r.hang() != null) {
      out.println(r.hang().headline());
    }
    List<String> diffs = compare(rec.trial(), RunReport.trialJson(r));
    JsonNode sched = rec.trial().path("schedule");
    if (diffs.isEmpty()) {
      out.printf(Locale.ROOT, "replay: matched: digest %s, %d steps, %.6f s virtual, outcome "
          + "%s%n", sched.path("digest").asText(), sched.path("steps").asLong(),
          sched.path("virtual_ns").asLong() / 1e9, r.outcome().json());
      return 0;
    }
    out.println("replay: DID NOT MATCH the record:");
    for (String d : diffs) {
      out.println("  " + d);
    }
    return 1;
  }

  /** What differs between the recorded trial and the replayed one (wall-clock time aside). */
  static List<String> compare(JsonNode recorded, Map<String, Object> replayed) {
    JsonNode now = MAPPER.valueToTree(replayed);
    List<String> diffs = new ArrayList<>();
    for (String f : new String[] {"outcome", "elapsed_s", "schedule", "panic", "hang",
        "counters"}) {
      JsonNode a = recorded.path(f);
      JsonNode b = now.path(f);
      if (!a.toString().equals(b.toString())) {   // text: 7 parsed as int equals 7L
        diffs.add(f + ": recorded " + a + ", replayed " + b);
      }
    }
    return diffs;
  }

  private Recorded read() {
    if (!Files.isRegularFile(file)) {
      throw usage("cannot read replay file '" + file + "': no such file");
    }
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw usage("cannot read replay file '" + file + "': " + e.getMessage());
    }
    List<JsonNode> docs = new ArrayList<>();
    try (MappingIterator<JsonNode> it = MAPPER.readerFor(JsonNode.class).readValues(text)) {
      while (it.hasNext()) {
        docs.add(it.next());
      }
    } catch (IOException | RuntimeException e) {
      throw usage("'" + file + "' is not an mpsafe trial record: not JSON ("
          + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage())
          + ")");
    }
    if (docs.isEmpty() || docs.get(0) == null || !docs.get(0).isObject()) {
      throw usage("'" + file + "' is not an mpsafe trial record: empty or not a JSON object");
    }
    String schema = docs.get(0).path("schema").asText("");
    JsonNode top;
    JsonNode t;
    if (schema.equals(RunReport.SCHEMA) && docs.size() == 1) {
      top = docs.get(0);
      JsonNode trials = top.path("trials");
      if (!trials.isArray() || trials.isEmpty()) {
        throw usage("'" + file + "' is not an mpsafe trial record: it has no trials");
      }
      if (trial != null) {
        if (trial < 1 || trial > trials.size()) {
          throw usage("Invalid value for option '--trial': " + trial + " (the record has "
              + trials.size() + " trials)");
        }
        t = trials.get(trial - 1);
      } else {
        t = firstPanicOrFirst(trials);
      }
    } else if (schema.equals(SweepCommand.SCHEMA)) {
      List<JsonNode> lines = new ArrayList<>();
      for (JsonNode d : docs) {
        if (!SweepCommand.SCHEMA.equals(d.path("schema").asText(""))) {
          throw usage("'" + file + "' is not an mpsafe trial record: a line is not "
              + SweepCommand.SCHEMA);
        }
        if (seed == null || d.path("seed").asLong() == seed) {
          lines.add(d);
        }
      }
      if (lines.isEmpty()) {
        throw usage("Invalid value for option '--seed': " + seed + " (no line of '" + file
            + "' has it)");
      }
      t = firstPanicOrFirst(MAPPER.valueToTree(lines));
      top = t;
    } else {
      throw usage("'" + file + "' is not an mpsafe trial record (schema '" + schema
          + "'; expected " + RunReport.SCHEMA + " or " + SweepCommand.SCHEMA + ")");
    }
    if (!"deterministic".equals(top.path("mode").asText())
        || !"deterministic".equals(t.path("schedule").path("mode").asText())) {
      throw usage("'" + file + "' was not recorded on the deterministic machine: only a "
          + "repro --deterministic or sweep trial can be replayed");
    }
    String build = top.path("build").asText("");
    if (!build.equals(BuildId.get())) {
      throw usage("'" + file + "' comes from another build (" + build + "; this is "
          + BuildId.get() + "): its schedule would not be the same");
    }
    try {
      String bug = top.path("bug").asText("kern-51632");
      if (Catalog.find(bug).isEmpty()) {
        throw new IllegalArgumentException("unknown bug '" + bug + "'");
      }
      String variant = top.path("variant").asText("");
      if (!variant.equals("buggy") && !variant.equals("fixed")) {
        throw new IllegalArgumentException("variant '" + variant + "' (buggy or fixed)");
      }
      TrialRunner.Settings s = new TrialRunner.Settings(bug, variant.equals("buggy"),
          top.path("xc_wait_spin").asBoolean(), top.path("cpus").asInt(),
          top.path("interfaces").asInt(), top.path("churn_lwps").asInt(),
          Duration.ofMillis(Math.round(top.path("duration_s").asDouble() * 1000)),
          top.path("detectors").asBoolean(), Duration.ofSeconds(30),
          Deterministic.Strategy.parse(top.path("strategy").asText()),
          Duration.ofMinutes(10), top.path("trace_events").asInt(4096));
      if (s.cpus() < 1 || s.cpus() > 64 || s.interfaces() < 2 || s.churnLwps() < 2
          || !t.path("budget_ns").canConvertToLong() || !t.path("seed").canConvertToLong()) {
        throw new IllegalArgumentException("options out of range or missing");
      }
      return new Recorded(s, t.path("seed").asLong(), t.path("budget_ns").asLong(), t);
    } catch (IllegalArgumentException e) {
      throw usage("'" + file + "' is not an mpsafe trial record: " + e.getMessage());
    }
  }

  private static JsonNode firstPanicOrFirst(JsonNode trials) {
    for (JsonNode n : trials) {
      if ("panic".equals(n.path("outcome").asText())) {
        return n;
      }
    }
    return trials.get(0);
  }

  private CommandLine.ParameterException usage(String msg) {
    return LoadOptions.usage(spec, msg);
  }
}
