package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mpsafe list} and {@code repro --bug/--variant}. */
class CatalogCliTest {
  @Test
  void listShowsKern51632WithItsSymptomAndFix() throws Exception {
    CliTestSupport.Result r = CliTestSupport.run("list");
    assertEquals(0, r.exit());
    assertTrue(r.out().startsWith("kern-51632  low-priority xcall"), r::out);
    assertTrue(r.out().contains("mismatched psref target class: 0x0 (ref) != 0x2 (expected)"));
    assertTrue(r.out().contains("docs/races/kern-51632.md"));
    JsonNode j = new ObjectMapper().readTree(CliTestSupport.run("list", "--json").out());
    assertEquals("kern-51632", j.get(0).get("id").asText());
    assertTrue(j.get(0).get("files").asText().contains("sys/kern/subr_xcall.c"));
  }

  @Test
  void variantSelectsTheCodePathAndTheJsonNamesIt(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("f.json");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--bug", "kern-51632", "--variant",
        "fixed", "--deterministic", "--seed", "13", "--duration", "1s", "--quiet", "--expect",
        "clean", "--json", json.toString());
    assertEquals(0, r.exit(), r::out);
    assertTrue(r.out().startsWith("mpsafe repro: bug=kern-51632 variant=fixed xcall=fixed"),
        r::out);
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals("kern-51632", j.get("bug").asText());
    assertEquals("fixed", j.get("variant").asText());
  }

  @Test
  void badBugOrVariantIsOneLineAndExit2() {
    assertUsage("Invalid value for option '--bug': 'kern-1' (known: kern-51632, "
        + "softint-disestablish; see 'mpsafe list')", "repro", "--bug", "kern-1");
    assertUsage("Invalid value for option '--variant': 'maybe' (buggy or fixed)", "repro",
        "--variant", "maybe");
    assertUsage("Options '--variant buggy' and '--xcall fixed' disagree", "repro",
        "--variant", "buggy", "--xcall", "fixed");
  }

  private static void assertUsage(String message, String... args) {
    CliTestSupport.Result r = CliTestSupport.run(args);
    assertEquals(2, r.exit(), () -> r.out() + r.err());
    assertEquals("mpsafe: " + message + System.lineSeparator(), r.err());
  }
}
