package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Runs the CLI in-process and captures what it prints. */
final class CliTestSupport {
  private CliTestSupport() {}

  record Result(int exit, String out, String err) {}

  /** A repro run and the JSON it wrote. */
  record Run(Result result, JsonNode json) {}

  /**
   * {@code repro --bug bug --variant variant --deterministic --seed seed --duration duration
   * --quiet --expect expect --json <dir>/<variant>.json}: asserts exit 0 (the outcome was
   * {@code expect}) and that the JSON names the entry and the variant.
   */
  static Run reproExpect(Path dir, String bug, String variant, long seed, String duration,
      String expect) throws IOException {
    Path json = dir.resolve(variant + ".json");
    Result r = run("repro", "--bug", bug, "--variant", variant, "--deterministic", "--seed",
        String.valueOf(seed), "--duration", duration, "--quiet", "--expect", expect, "--json",
        json.toString());
    assertEquals(0, r.exit(), r::out);
    JsonNode j = new ObjectMapper().readTree(json.toFile());
    assertEquals(bug, j.get("bug").asText());
    assertEquals(variant, j.get("variant").asText());
    return new Run(r, j);
  }

  static Result run(String... args) {
    return run(new ReproCommand.Interrupt(), args);
  }

  static Result run(ReproCommand.Interrupt interrupt, String... args) {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8);
    int rc = MpsafeCli.commandLine(out, err, interrupt).execute(args);
    return new Result(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
  }
}
