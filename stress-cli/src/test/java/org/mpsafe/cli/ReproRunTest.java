package org.mpsafe.cli;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Short real runs: legacy panics with the PR's KASSERT (and the JSON and HTML say so), fixed
 * stays clean while doing real work, Ctrl-C still reports. Seconds each, not minutes.
 *
 * <p>No verdict here hangs on a deadline: a legacy run ends at its panic (about a second in;
 * {@link #UNTIL_PANIC} is only a cap that a working build never reaches), a clean verdict comes
 * from runs that cannot panic (fixed accounting, or one CPU), and the interrupt test waits on
 * states, not time.
 */
class ReproRunTest {
  /** Cap of the runs that must panic; they end at the panic, in seconds. */
  private static final String UNTIL_PANIC = "30m";
  /**
   * The PR's KASSERT, whole. The expected class is {@code 0x2} when the late callback read the
   * dead frame after the destroyer's next call reused it (most panics), and the class itself
   * ({@code 0xffffc…}) when it read it before (the same assertion; how often depends on the
   * host's scheduling, up to several percent of legacy panics).
   */
  static final Pattern PR_KASSERT = Pattern.compile(Pattern.quote(
      "kernel diagnostic assertion \"(target->prt_class == class)\" failed: file "
          + "\"sys/kern/subr_psref.c\", line 485 mismatched psref target class: ")
      + "0x[0-9a-f]+ \\(ref\\) != 0x[0-9a-f]+ \\(expected\\)");
  private static final List<String> COUNTERS = List.of("packets_forwarded", "addresses_added",
      "addresses_deleted", "rt_destroys", "ifa_destroys", "xc_lowpri", "xc_highpri",
      "xc_early_returns");

  @Test
  void legacyPanicsWithThePrMessageAndExplainsIt(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("run.json");
    Path html = dir.resolve("run.html");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--duration", UNTIL_PANIC, "--seed",
        "1", "--quiet", "--json", json.toString(), "--report", html.toString());
    assertEquals(1, r.exit(), r.out() + r.err());
    assertTrue(Pattern.compile("(?m)^panic: " + PR_KASSERT.pattern() + "$").matcher(r.out())
        .find(), r.out());
    assertTrue(r.out().contains("early return: xc_wait("), r.out());
    assertTrue(r.out().contains("dead frame:"), r.out());
    assertTrue(r.out().contains("last events on cpu"), r.out());
    assertTrue(r.out().contains(r.out().contains("!= 0x2 (expected)")
        ? "0x2 is not measured" : "P->class still held the class"), r.out());
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
    assertTrue(PR_KASSERT.matcher(p.get("message").asText()).matches(),
        p.get("message").asText());
    assertTrue(p.get("lwp").asText().startsWith("xcall/"));
    assertTrue(p.get("cause").asText().contains("early return"));
    for (String k : COUNTERS) {
      assertTrue(j.get("counters").has(k), "counters lack " + k);
    }
    assertTrue(j.get("counters").get("xc_early_returns").asLong() >= 1);
    assertEquals(1, j.get("trials").size());
    String page = Files.readString(html);
    assertTrue(page.contains("<svg") && page.contains("line 485 mismatched psref target class: "),
        "report lacks plot/panic");
    assertTrue(!page.contains("<script src") && !page.contains("http://")
        || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
  }

  /**
   * The fix runs clean and does real work. On the deterministic machine, so that "4 s" is 4 s of
   * virtual time whatever the host's load: the work counted is a function of the seed, never
   * of how much CPU a busy host gave the run.
   */
  @Test
  void fixedRunsCleanDoingRealWork(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("fixed.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--xcall", "fixed", "--duration",
        "4s", "--seed", "2", "--deterministic", "--quiet", "--expect", "clean", "--json",
        json.toString());
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
    CliTestSupport.Result r = CliTestSupport.run("repro", "--duration", UNTIL_PANIC, "--trials",
        "3", "--seed", "5", "--quiet", "--expect", "panic");
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("(3 of 3 runs panicked)"), r.out());
    assertTrue(r.out().contains("time to panic"), r.out());
  }

  @Test
  void expectCleanOnLegacyIsExit1() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--duration", UNTIL_PANIC, "--seed",
        "9", "--quiet", "--expect", "clean");
    assertEquals(1, r.exit(), r.out());
    assertTrue(r.out().contains("outcome                          panic"), r.out());
  }

  /**
   * The detectors only observe: with them off the legacy race still panics with the same
   * KASSERT, and the report says the cause is unknown instead of inventing one.
   */
  @Test
  void legacyPanicsWithTheDetectorsOff(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("nodet.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--no-detectors", "--duration",
        UNTIL_PANIC, "--seed", "3", "--quiet", "--expect", "panic", "--json", json.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("detectors=off"), r.out());
    assertTrue(Pattern.compile("(?m)^panic: " + PR_KASSERT.pattern() + "$").matcher(r.out())
        .find(), r.out());
    assertTrue(r.out().contains("detectors off (--no-detectors)"), r.out());
    assertFalse(r.out().contains("early return: xc_wait("), r.out());
    assertFalse(r.out().contains("dead frame:"), r.out());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertFalse(j.get("detectors").asBoolean());
    assertEquals(0, j.get("counters").get("xc_early_returns").asLong());
    assertEquals(0, j.get("counters").get("dead_frame_reads").asLong());
  }

  /**
   * Negative control: on one CPU the legacy accounting cannot overlap two jobs' callbacks (the
   * one xcall/0 thread runs them in turn), so the race that needs a callback still running on
   * another CPU cannot happen, whatever the duration. Short, and it must have done the work: on
   * the deterministic machine, so the 3 s are virtual and the work is the seed's, not the host's.
   */
  @Test
  void legacyOnOneCpuStaysClean(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("onecpu.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--cpus", "1", "--xcall", "legacy",
        "--duration", "3s", "--seed", "4", "--deterministic", "--quiet", "--expect", "clean",
        "--json", json.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("legacy", j.get("xcall").asText());
    assertEquals(1, j.get("cpus").asInt());
    assertEquals("clean", j.get("outcome").asText());
    JsonNode c = j.get("counters");
    for (String k : List.of("addresses_deleted", "rt_destroys", "ifa_destroys", "xc_lowpri")) {
      assertTrue(c.get(k).asLong() > 0, k + " = 0: no real work done");
    }
    assertEquals(0, c.get("xc_early_returns").asLong());
    assertEquals(0, c.get("dead_frame_reads").asLong());
  }

  /** NetBSD's xc_wait (no spin) reproduces the PR just the same. */
  @Test
  void legacyPanicsWithoutTheXcWaitSpin(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("nospin.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--xc-wait-spin", "off",
        "--duration", UNTIL_PANIC, "--seed", "6", "--quiet", "--expect", "panic", "--json",
        json.toString());
    assertEquals(0, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("xc-wait-spin=off"), r.out());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertFalse(j.get("xc_wait_spin").asBoolean());
    assertTrue(PR_KASSERT.matcher(j.get("panic").get("message").asText()).matches(),
        j.get("panic").get("message").asText());
    assertTrue(j.get("counters").get("xc_early_returns").asLong() >= 1);
  }

  @Test
  void interruptStopsTheRunAndStillWritesTheSummary(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("int.json");
    ReproCommand.Interrupt ctrlC = new ReproCommand.Interrupt();
    CompletableFuture<CliTestSupport.Result> run = CompletableFuture.supplyAsync(() ->
        CliTestSupport.run(ctrlC, "repro", "--xcall", "fixed", "--duration", "10m", "--quiet",
            "--json", json.toString()));
    await().atMost(Duration.ofMinutes(5)).until(() -> Thread.getAllStackTraces().keySet()
        .stream().anyMatch(t -> t.getName().startsWith("nic/")));
    ctrlC.requested = true;
    CliTestSupport.Result r = run.get(5, TimeUnit.MINUTES);
    assertEquals(130, r.exit(), r.out() + r.err());
    assertTrue(r.out().contains("interrupted"), r.out());
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("interrupted", j.get("outcome").asText());
    assertNotNull(j.get("counters"));
    // The run returned after shutdown joined every thread of its machine: none may be left.
    assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t ->
        t.getName().startsWith("nic/") || t.getName().startsWith("xcall/")
            || t.getName().startsWith("softnet/")), "threads of the machine left behind");
  }
}
