package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
    Path json = dir.resolve("b.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "softint-disestablish",
        "--variant", "buggy", "--deterministic", "--seed", "1", "--duration", "5s", "--quiet",
        "--expect", "panic", "--json", json.toString());
    assertEquals(0, r.exit(), r::out);
    assertTrue(r.out().startsWith("mpsafe repro: bug=softint-disestablish variant=buggy"),
        r::out);
    assertTrue(r.out().contains("panic: use after free: softint_execute on cpu3: softint "
        + "if_percpuq_softint (arg if_percpuq vio1000000) " + LATE), r::out);
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("softint-disestablish", j.get("bug").asText());
    assertEquals("buggy", j.get("variant").asText());
  }

  @Test
  void fixedRunsTheSameSeedClean(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("f.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "softint-disestablish",
        "--variant", "fixed", "--deterministic", "--seed", "1", "--duration", "2s", "--quiet",
        "--expect", "clean", "--json", json.toString());
    assertEquals(0, r.exit(), r::out);
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("softint-disestablish", j.get("bug").asText());
    assertEquals("fixed", j.get("variant").asText());
  }
}
