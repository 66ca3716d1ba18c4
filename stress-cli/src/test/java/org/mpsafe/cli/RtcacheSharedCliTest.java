package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    CliTestSupport.Run run = CliTestSupport.reproExpect(dir, "rtcache-shared", "buggy",
        2, "1s", "panic");
    CliTestSupport.Result r = run.result();
    assertTrue(r.out().startsWith("mpsafe repro: bug=rtcache-shared variant=buggy"), r::out);
    assertTrue(r.out().contains("kernel diagnostic assertion \"(psref->psref_lwp == curlwp)\" "
        + "failed: file \"sys/kern/subr_psref.c\", line 276 passive reference transferred "
        + "from lwp 0x"), r::out);
    assertEquals("panic", run.json().get("outcome").asText());
  }

  @Test
  void fixedRunsTheSameSeedClean(@TempDir Path dir) throws Exception {
    CliTestSupport.Run run = CliTestSupport.reproExpect(dir, "rtcache-shared", "fixed",
        2, "1s", "clean");
    assertEquals("clean", run.json().get("outcome").asText());
  }

  @Test
  void listShowsTheEntry() {
    CliTestSupport.Result r = CliTestSupport.run("list");
    assertEquals(0, r.exit());
    assertTrue(r.out().contains("rtcache-shared  one forwarding route cache"), r::out);
    assertTrue(r.out().contains("docs/races/rtcache-shared.md"), r::out);
  }
}
