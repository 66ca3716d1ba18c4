package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code repro --bug softint-disestablish}: the buggy variant (kern_softint.c 1.41's wait) ends
 * in the late dispatch's use-after-free panic on the deterministic machine; the fix runs the
 * same seed clean.
 */
class SoftintDisestablishCliTest {
  private static final String LATE = "was disestablished while pending here: sh_func == NULL "
      + "(trap type 6, call through NULL)";

  @Test
  void listShowsTheEntry() {
    CliTestSupport.Result r = CliTestSupport.run("list");
    assertEquals(0, r.exit());
    assertTrue(r.out().contains("softint-disestablish  softint_disestablish waits only for "
        + "SOFTINT_ACTIVE"), r::out);
    assertTrue(r.out().contains("docs/races/softint-disestablish.md"), r::out);
  }

  @Test
  void buggyPanicsWithTheLateDispatch(@TempDir Path dir) throws Exception {
    CliTestSupport.Run run = CliTestSupport.reproExpect(dir, "softint-disestablish", "buggy",
        1, "5s", "panic");
    CliTestSupport.Result r = run.result();
    assertTrue(r.out().startsWith("mpsafe repro: bug=softint-disestablish variant=buggy"),
        r::out);
    assertTrue(r.out().contains("panic: use after free: softint_execute on cpu3: softint "
        + "if_percpuq_softint (arg if_percpuq vio1000000) " + LATE), r::out);
    assertEquals("panic", run.json().get("outcome").asText());
  }

  @Test
  void fixedRunsTheSameSeedClean(@TempDir Path dir) throws Exception {
    CliTestSupport.Run run = CliTestSupport.reproExpect(dir, "softint-disestablish", "fixed",
        1, "2s", "clean");
    assertEquals("clean", run.json().get("outcome").asText());
  }
}
