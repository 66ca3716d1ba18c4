package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --trace FILE.json} follows the trace-event format's rules: it parses; every slice has a
 * start and a duration; on each CPU's track the slices never go backwards and either nest (a
 * softint in the thread it interrupted) or follow each other, never overlapping partly; every
 * flow that starts ends, after it started; pid and tid are consistent with the named tracks;
 * and a legacy run carries the panic instant with the PR's message.
 */
class ChromeTraceTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir Path dir;

  /** Checks the format's rules; returns the document. */
  static JsonNode checkFormat(Path file, int cpus) throws IOException {
    JsonNode doc = MAPPER.readTree(file.toFile());
    JsonNode ev = doc.path("traceEvents");
    assertTrue(ev.isArray() && ev.size() > 0, "no traceEvents");
    Set<Integer> named = new HashSet<>();
    Map<Integer, Double> trackStart = new HashMap<>();
    Map<Integer, Deque<Double>> open = new HashMap<>();
    Map<Long, Double> flowStart = new HashMap<>();
    Map<Long, Double> flowEnd = new HashMap<>();
    int slices = 0;
    for (JsonNode e : ev) {
      String ph = e.path("ph").asText();
      assertEquals(1, e.path("pid").asInt(), e::toString);
      if (ph.equals("M")) {
        if (e.path("name").asText().equals("thread_name")) {
          named.add(e.path("tid").asInt());
        }
        continue;
      }
      int tid = e.path("tid").asInt(-1);
      assertTrue(tid >= 0 && tid < cpus, () -> "tid out of range: " + e);
      assertTrue(e.path("ts").isNumber() && e.path("ts").asDouble() >= 0, e::toString);
      switch (ph) {
        case "X" -> {
          slices++;
          assertTrue(e.path("dur").isNumber() && e.path("dur").asDouble() >= 0, e::toString);
          double ts = e.path("ts").asDouble();
          double end = ts + e.path("dur").asDouble();
          double prev = trackStart.getOrDefault(tid, 0.0);
          assertTrue(ts >= prev - 1e-6, () -> "slice goes back on cpu" + tid + ": " + e);
          trackStart.put(tid, ts);
          // Slices on a track nest or follow each other, never overlap partly.
          Deque<Double> stack = open.computeIfAbsent(tid, x -> new ArrayDeque<>());
          while (!stack.isEmpty() && stack.peek() <= ts + 1e-6) {
            stack.pop();
          }
          if (!stack.isEmpty()) {
            double parentEnd = stack.peek();
            assertTrue(end <= parentEnd + 1e-6, () -> "slice overlaps its parent on cpu" + tid
                + ": " + e + " past " + parentEnd);
          }
          stack.push(end);
          assertFalse(e.path("name").asText().isEmpty());
        }
        case "s" -> assertEquals(null, flowStart.put(e.path("id").asLong(),
            e.path("ts").asDouble()), () -> "flow started twice: " + e);
        case "f" -> assertEquals(null, flowEnd.put(e.path("id").asLong(),
            e.path("ts").asDouble()), () -> "flow ended twice: " + e);
        case "t", "i" -> { }
        default -> throw new AssertionError("unexpected phase " + ph + ": " + e);
      }
    }
    assertTrue(slices > 0, "no slices");
    assertEquals(flowStart.keySet(), flowEnd.keySet(), "flows that do not pair up");
    for (Map.Entry<Long, Double> s : flowStart.entrySet()) {
      assertTrue(s.getValue() <= flowEnd.get(s.getKey()), "flow ends before it starts");
    }
    assertTrue(named.containsAll(trackStart.keySet()), "a track without a name");
    return doc;
  }

  @Test
  void legacyDeterministicTraceFollowsTheFormatAndShowsThePanic() throws IOException {
    Path t = dir.resolve("t.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--deterministic", "--seed", "13",
        "--duration", "10s", "--quiet", "--trace", t.toString());
    assertEquals(1, r.exit(), r::out);
    assertTrue(r.out().contains("wrote " + t), r::out);
    JsonNode doc = checkFormat(t, 4);
    boolean panic = false;
    boolean early = false;
    boolean xcallSlice = false;
    for (JsonNode e : doc.path("traceEvents")) {
      if (e.path("ph").asText().equals("i") && e.path("name").asText().equals("panic")) {
        panic = e.path("args").path("message").asText()
            .endsWith("mismatched psref target class: 0x0 (ref) != 0x2 (expected)");
      }
      early |= e.path("name").asText().equals("xc_early_return");
      xcallSlice |= e.path("ph").asText().equals("X") && e.path("cat").asText().equals("xcall");
    }
    assertTrue(panic, "no panic instant with the PR's message");
    assertTrue(early, "no early-return instant");
    assertTrue(xcallSlice, "no xcall/N slice");
    assertTrue(doc.path("traceEvents").findValues("interrupted_by_softints").size() > 0,
        "no softint nested in the thread it interrupted");
    JsonNode other = doc.path("otherData");
    assertEquals("kern-51632", other.path("bug").asText());
    assertEquals("buggy", other.path("variant").asText());
    assertEquals(13, other.path("seed").asLong());
    assertEquals("deterministic", other.path("mode").asText());
  }

  @Test
  void hostScheduledFixedTraceFollowsTheFormat() throws IOException {
    Path t = dir.resolve("h.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--xcall", "fixed", "--seed", "3",
        "--duration", "300ms", "--quiet", "--trace", t.toString(), "--trace-events", "512");
    assertEquals(0, r.exit(), r::out);
    JsonNode doc = checkFormat(t, 4);
    assertEquals("host", doc.path("otherData").path("mode").asText());
    assertEquals("fixed", doc.path("otherData").path("variant").asText());
  }

  @Test
  void badTraceOptionsAreOneLineAndExit2() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--trace-events", "3");
    assertEquals(2, r.exit());
    assertEquals("mpsafe: Invalid value for option '--trace-events': 3 (must be 16..1000000)"
        + System.lineSeparator(), r.err());
    CliTestSupport.Result d = CliTestSupport.run("repro", "--trace", dir.toString());
    assertEquals(2, d.exit());
    assertTrue(d.err().startsWith("mpsafe: Cannot write --trace file"), d::err);
  }
}
