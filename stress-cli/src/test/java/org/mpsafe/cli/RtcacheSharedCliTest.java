package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code repro --bug rtcache-shared}: the shared {@code ipforward_rt} panics on psref_release's
 * lwp KASSERT on the deterministic machine (seed 2, at its first overlap), and the per-CPU
 * rtcache runs the same seed clean. See docs/races/rtcache-shared.md.
 */
class RtcacheSharedCliTest {
  @Test
  void buggyPanicsOnTheLwpCheck(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("b.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "rtcache-shared",
        "--variant", "buggy", "--deterministic", "--seed", "2", "--duration", "1s", "--quiet",
        "--expect", "panic", "--json", json.toString());
    assertEquals(0, r.exit(), r::out);
    assertTrue(r.out().startsWith("mpsafe repro: bug=rtcache-shared variant=buggy"), r::out);
    assertTrue(r.out().contains("kernel diagnostic assertion \"(psref->psref_lwp == curlwp)\" "
        + "failed: file \"sys/kern/subr_psref.c\", line 276 passive reference transferred "
        + "from lwp 0x"), r::out);
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("rtcache-shared", j.get("bug").asText());
    assertEquals("buggy", j.get("variant").asText());
  }

  @Test
  void fixedRunsTheSameSeedClean(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("f.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "rtcache-shared",
        "--variant", "fixed", "--deterministic", "--seed", "2", "--duration", "1s", "--quiet",
        "--expect", "clean", "--json", json.toString());
    assertEquals(0, r.exit(), r::out);
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("rtcache-shared", j.get("bug").asText());
    assertEquals("fixed", j.get("variant").asText());
  }

  @Test
  void listShowsTheEntry() {
    CliTestSupport.Result r = CliTestSupport.run("list");
    assertEquals(0, r.exit());
    assertTrue(r.out().contains("rtcache-shared  one forwarding route cache"), r::out);
    assertTrue(r.out().contains("docs/races/rtcache-shared.md"), r::out);
  }
}
