package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code repro --bug softnet-purgeif}: the buggy variant deadlocks and the watchdog reports it
 * (exit 3, or 0 with {@code --expect hang}); the fixed variant runs clean. Deterministic
 * machine, seed 1: the hang comes after the watchdog's 30 s of virtual time.
 */
class SoftnetPurgeifCliTest {
  @Test
  void buggyHangsWithTheSoftintOnSoftnetLockHeldByTheDestroyer(@TempDir Path dir)
      throws Exception {
    CliTestSupport.Run run = CliTestSupport.reproExpect(dir, "softnet-purgeif", "buggy",
        1, "40s", "hang");
    CliTestSupport.Result r = run.result();
    assertTrue(r.out().startsWith("mpsafe repro: bug=softnet-purgeif variant=buggy"), r::out);
    assertTrue(r.out().matches("(?s).*\nhang: lwp softnet/\\d blocked on softnet_lock for \\d+ "
        + "ms\n.*"), r::out);
    assertTrue(r.out().matches("(?s).*\n  softnet/\\d +lid=\\d+ +SLEEP +softnet_lock .*, owner "
        + "ifconfig/\\d\n.*"), r::out);
    JsonNode j = run.json();
    assertEquals("hang", j.get("outcome").asText());
    assertTrue(j.get("time_to_hang_s").get("median").asDouble() >= 30.0, j::toString);
  }

  @Test
  void buggyWithoutExpectExitsThree() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "softnet-purgeif",
        "--variant", "buggy", "--deterministic", "--seed", "1", "--duration", "40s", "--quiet");
    assertEquals(3, r.exit(), r::out);
  }

  @Test
  void fixedRunsClean(@TempDir Path dir) throws Exception {
    CliTestSupport.Run run = CliTestSupport.reproExpect(dir, "softnet-purgeif", "fixed",
        1, "2s", "clean");
    JsonNode j = run.json();
    assertEquals("clean", j.get("outcome").asText());
    assertTrue(j.get("counters").get("ifa_destroys").asLong() > 0, j::toString);
  }

  @Test
  void sweepExpectHang(@TempDir Path dir) {
    CliTestSupport.Result r = CliTestSupport.run("sweep", "--bug", "softnet-purgeif",
        "--variant", "buggy", "--seeds", "1..2", "--duration", "40s", "--quiet", "--jsonl",
        dir.resolve("s.jsonl").toString(), "--expect", "hang");
    assertEquals(0, r.exit(), r::out);
    assertTrue(r.out().contains("sweep: 2 trials: 0 panicked, 0 clean, 2 hung"), r::out);
  }

  @Test
  void expectHangOnAFixedRunIsExitOne() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "softnet-purgeif",
        "--variant", "fixed", "--deterministic", "--seed", "1", "--duration", "1s", "--quiet",
        "--expect", "hang");
    assertEquals(1, r.exit(), r::out);
  }
}
