package org.mpsafe.cli;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Short real runs: legacy panics with the PR's message (and the JSON and HTML say so), fixed
 * stays clean while doing real work, Ctrl-C still reports. Seconds each, not minutes.
 */
class ReproRunTest {
  private static final String PR_MESSAGE =
      "mismatched psref target class: 0x0 (ref) != 0x2 (expected)";
  private static final List<String> COUNTERS = List.of("packets_forwarded", "addresses_added",
      "addresses_deleted", "rt_destroys", "ifa_destroys", "xc_lowpri", "xc_highpri",
      "xc_early_returns");

  @Test
  void legacyPanicsWithThePrMessageAndExplainsIt(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("run.json");
    Path html = dir.resolve("run.html");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--duration", "90s", "--seed", "1",
        "--quiet", "--json", json.toString(), "--report", html.toString());
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("panic: kernel diagnostic assertion \"(target->prt_class == "
        + "class)\" failed: file \"sys/kern/subr_psref.c\", line 485 " + PR_MESSAGE), r.out());
    assertTrue(r.out().contains("early return: xc_wait("), r.out());
    assertTrue(r.out().contains("dead frame:"), r.out());
    assertTrue(r.out().contains("last events on cpu"), r.out());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    for (String k : List.of("xcall", "cpus", "seed", "duration_s", "elapsed_s", "outcome",
        "panic", "counters", "trials")) {
      assertTrue(j.has(k), "JSON lacks " + k);
    }
    assertEquals("legacy", j.get("xcall").asText());
    assertEquals(1, j.get("seed").asLong());
    assertEquals("panic", j.get("outcome").asText());
    JsonNode p = j.get("panic");
    for (String k : List.of("message", "cpu", "lwp", "time_s", "cause")) {
      assertTrue(p.has(k), "panic lacks " + k);
    }
    assertTrue(p.get("message").asText().endsWith(PR_MESSAGE));
    assertTrue(p.get("lwp").asText().startsWith("xcall/"));
    assertTrue(p.get("cause").asText().contains("early return"));
    for (String k : COUNTERS) {
      assertTrue(j.get("counters").has(k), "counters lack " + k);
    }
    assertTrue(j.get("counters").get("xc_early_returns").asLong() >= 1);
    assertEquals(1, j.get("trials").size());
    String page = Files.readString(html);
    assertTrue(page.contains("<svg") && page.contains(PR_MESSAGE), "report lacks plot/panic");
    assertTrue(!page.contains("<script src") && !page.contains("http://")
        || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
  }

  @Test
  void fixedRunsCleanDoingRealWork(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("fixed.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--xcall", "fixed", "--duration",
        "4s", "--seed", "2", "--quiet", "--expect", "clean", "--json", json.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("clean", j.get("outcome").asText());
    assertTrue(j.get("panic").isNull());
    JsonNode c = j.get("counters");
    for (String k : List.of("packets_forwarded", "addresses_deleted", "rt_destroys",
        "ifa_destroys", "xc_lowpri")) {
      assertTrue(c.get(k).asLong() > 0, k + " = 0: no real work done");
    }
    assertEquals(0, c.get("xc_early_returns").asLong());
  }

  @Test
  void expectPanicAcrossTrialsReportsTheDistribution() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--duration", "90s", "--trials", "3",
        "--seed", "5", "--quiet", "--expect", "panic");
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("(3 of 3 runs panicked)"), r.out());
    assertTrue(r.out().contains("time to panic"), r.out());
  }

  @Test
  void expectCleanOnLegacyIsExit1() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--duration", "90s", "--seed", "9",
        "--quiet", "--expect", "clean");
    assertEquals(1, r.exit(), r.out());
  }

  @Test
  void interruptStopsTheRunAndStillWritesTheSummary(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("int.json");
    ReproCommand.Interrupt ctrlC = new ReproCommand.Interrupt();
    CompletableFuture<CliTestSupport.Result> run = CompletableFuture.supplyAsync(() ->
        CliTestSupport.run(ctrlC, "repro", "--xcall", "fixed", "--duration", "10m", "--quiet",
            "--json", json.toString()));
    await().atMost(Duration.ofSeconds(30)).until(() -> Thread.getAllStackTraces().keySet()
        .stream().anyMatch(t -> t.getName().startsWith("nic/")));
    ctrlC.requested = true;
    CliTestSupport.Result r = run.get(60, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(130, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("interrupted"), r.out());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("interrupted", j.get("outcome").asText());
    assertNotNull(j.get("counters"));
    await().atMost(Duration.ofSeconds(10)).until(() -> Thread.getAllStackTraces().keySet()
        .stream().noneMatch(t -> t.getName().startsWith("nic/")
            || t.getName().startsWith("xcall/") || t.getName().startsWith("softnet/")));
  }
}
