package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code repro --deterministic}, {@code replay} and {@code sweep}: the same seed gives the same
 * schedule in this JVM and in two others; a recorded panic replays; shards of a sweep add up
 * to the whole; bad input is one line and exit 2. Seed 13 panics after about 4,000 steps under
 * the legacy accounting, so each run takes well under a second of work.
 */
class DeterministicCliTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String[] DET = {"--deterministic", "--seed", "13", "--duration", "10s",
      "--quiet"};

  @TempDir Path dir;

  private static String[] args(String cmd, String[] base, String... more) {
    List<String> a = new ArrayList<>();
    a.add(cmd);
    a.addAll(List.of(base));
    a.addAll(List.of(more));
    return a.toArray(new String[0]);
  }

  /** The output without the figures that are wall-clock time (elapsed, rates) or file names. */
  private static String withoutWallClock(String out) {
    return out.lines()
        .filter(l -> !l.startsWith("  elapsed") && !l.startsWith("  packets forwarded")
            && !l.startsWith("wrote "))
        .collect(Collectors.joining("\n"));
  }

  @Test
  void sameSeedSameScheduleAndOutputInThisJvm() throws IOException {
    Path a = dir.resolve("a.json");
    Path b = dir.resolve("b.json");
    CliTestSupport.Result ra = CliTestSupport.run(args("repro", DET, "--json", a.toString()));
    CliTestSupport.Result rb = CliTestSupport.run(args("repro", DET, "--json", b.toString()));
    assertEquals(1, ra.exit(), ra::out);
    assertEquals(withoutWallClock(ra.out()), withoutWallClock(rb.out()));
    JsonNode ja = MAPPER.readTree(a.toFile());
    JsonNode jb = MAPPER.readTree(b.toFile());
    assertEquals(ja.path("schedule"), jb.path("schedule"));
    assertEquals("deterministic", ja.path("schedule").path("mode").asText());
    assertEquals("random", ja.path("schedule").path("strategy").asText());
    assertEquals(13, ja.path("schedule").path("seed").asLong());
    assertTrue(ja.path("schedule").path("steps").asLong() > 0);
    assertTrue(ja.path("schedule").path("digest").asText().matches("[0-9a-f]{16}"));
    assertTrue(ja.path("panic").path("message").asText().endsWith(
        "line 485 mismatched psref target class: 0x0 (ref) != 0x2 (expected)"), ja::toString);

    CliTestSupport.Result rc = CliTestSupport.run("repro", "--deterministic", "--seed", "14",
        "--duration", "10s", "--quiet", "--json", dir.resolve("c.json").toString());
    assertNotEquals(ja.path("schedule").path("digest"),
        MAPPER.readTree(dir.resolve("c.json").toFile()).path("schedule").path("digest"),
        rc::out);
  }

  /** Two JVMs, two runs: the same digest, the same panic, the same output but for wall time. */
  @Test
  void sameSeedSameScheduleInTwoJvms() throws Exception {
    List<String> outs = new ArrayList<>();
    List<JsonNode> docs = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Path json = dir.resolve("jvm" + i + ".json");
      List<String> cmd = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("java.class.path"), MpsafeCli.class.getName()));
      cmd.addAll(List.of(args("repro", DET, "--json", json.toString())));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(dir.resolve("jvm" + i + ".out").toFile()).start();
      assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the CLI JVM did not end");
      String out = Files.readString(dir.resolve("jvm" + i + ".out"), StandardCharsets.UTF_8);
      assertEquals(1, p.exitValue(), out);
      outs.add(withoutWallClock(out));
      docs.add(MAPPER.readTree(json.toFile()));
    }
    assertEquals(outs.get(0), outs.get(1));
    assertEquals(docs.get(0).path("schedule"), docs.get(1).path("schedule"));
    assertEquals(docs.get(0).path("panic"), docs.get(1).path("panic"));
  }

  @Test
  void aRecordedPanicReplays() throws IOException {
    Path rec = dir.resolve("rec.json");
    assertEquals(1, CliTestSupport.run(args("repro", DET, "--json", rec.toString())).exit());
    CliTestSupport.Result r = CliTestSupport.run("replay", rec.toString());
    assertEquals(0, r.exit(), r::out);
    JsonNode s = MAPPER.readTree(rec.toFile()).path("schedule");
    assertTrue(r.out().contains("replay: matched: digest " + s.path("digest").asText()),
        r::out);
    assertTrue(r.out().contains("line 485 mismatched psref target class"), r::out);

    // A record whose digest is not what this build does is a mismatch, exit 1.
    ObjectNode doc = (ObjectNode) MAPPER.readTree(rec.toFile());
    ((ObjectNode) doc.path("trials").get(0).path("schedule")).put("digest", "0000000000000000");
    Path forged = dir.resolve("forged.json");
    MAPPER.writeValue(forged.toFile(), doc);
    CliTestSupport.Result f = CliTestSupport.run("replay", forged.toString());
    assertEquals(1, f.exit(), f::out);
    assertTrue(f.out().contains("DID NOT MATCH"), f::out);
  }

  @Test
  void shardsOfASweepAddUpToTheWholeSweep() throws IOException {
    Path all = dir.resolve("all.jsonl");
    Path s1 = dir.resolve("s1.jsonl");
    Path s2 = dir.resolve("s2.jsonl");
    String[] base = {"--duration", "2s", "--quiet", "--seeds", "12..15"};
    CliTestSupport.Result r = CliTestSupport.run(args("sweep", base, "--jsonl", all.toString()));
    assertTrue(r.exit() == 0 || r.exit() == 1, r::out);
    CliTestSupport.run(args("sweep", base, "--shard", "1/2", "--jsonl", s1.toString()));
    CliTestSupport.run(args("sweep", base, "--shard", "2/2", "--jsonl", s2.toString()));
    List<String> whole = schedules(all);
    List<String> parts = new ArrayList<>(schedules(s1));
    parts.addAll(schedules(s2));
    assertEquals(4, whole.size());
    assertEquals(whole.stream().sorted().toList(), parts.stream().sorted().toList());
    assertEquals(List.of(12L, 14L), seeds(s1));
    assertEquals(List.of(13L, 15L), seeds(s2));

    CliTestSupport.Result rep = CliTestSupport.run("replay", s2.toString(), "--seed", "13");
    assertEquals(0, rep.exit(), rep::out);
  }

  private static List<String> schedules(Path jsonl) throws IOException {
    List<String> out = new ArrayList<>();
    for (String l : Files.readAllLines(jsonl)) {
      JsonNode n = MAPPER.readTree(l);
      assertEquals("mpsafe-sweep/1", n.path("schema").asText());
      out.add(n.path("seed").asLong() + " " + n.path("outcome").asText() + " "
          + n.path("schedule"));
    }
    return out;
  }

  private static List<Long> seeds(Path jsonl) throws IOException {
    List<Long> out = new ArrayList<>();
    for (String l : Files.readAllLines(jsonl)) {
      out.add(MAPPER.readTree(l).path("seed").asLong());
    }
    return out;
  }

  @Test
  void badInputIsOneLineAndExit2() throws IOException {
    Path j = dir.resolve("x.jsonl");
    assertUsage("Invalid value for option '--strategy': bad strategy 'pct:0': the depth after "
        + "pct: must be >= 1", "repro", "--deterministic", "--strategy", "pct:0");
    assertUsage("Option '--strategy' needs --deterministic", "repro", "--strategy", "pct");
    assertUsage("Invalid value for option '--seeds': '5..1' (A..B with 0 <= A <= B)",
        "sweep", "--seeds", "5..1", "--jsonl", j.toString());
    assertUsage("Invalid value for option '--shard': '3/2' (K/M with 1 <= K <= M)",
        "sweep", "--seeds", "1..5", "--shard", "3/2", "--jsonl", j.toString());
    Path notTrial = dir.resolve("not-trial.json");
    Files.writeString(notTrial, "{\"hello\": 1}\n");
    assertUsage("'" + notTrial + "' is not an mpsafe trial record (schema ''; expected "
        + "mpsafe-repro/1 or mpsafe-sweep/1)", "replay", notTrial.toString());
    Path rec = dir.resolve("rec.json");
    CliTestSupport.run(args("repro", DET, "--json", rec.toString()));
    ObjectNode doc = (ObjectNode) MAPPER.readTree(rec.toFile());
    doc.put("build", "0123456789abcdef");
    Path other = dir.resolve("other-build.json");
    MAPPER.writeValue(other.toFile(), doc);
    assertUsage("'" + other + "' comes from another build (0123456789abcdef; this is "
        + BuildId.get() + "): its schedule would not be the same", "replay", other.toString());
    Path host = dir.resolve("host.json");
    CliTestSupport.run("repro", "--seed", "1", "--duration", "200ms", "--quiet", "--xcall",
        "fixed", "--json", host.toString());
    assertUsage("'" + host + "' was not recorded on the deterministic machine: only a repro "
        + "--deterministic or sweep trial can be replayed", "replay", host.toString());
    assertUsage("cannot read replay file '" + dir.resolve("none.json") + "': no such file",
        "replay", dir.resolve("none.json").toString());
  }

  private static void assertUsage(String message, String... args) {
    CliTestSupport.Result r = CliTestSupport.run(args);
    assertEquals(2, r.exit(), () -> r.out() + r.err());
    assertEquals("mpsafe: " + message + System.lineSeparator(), r.err());
  }
}
