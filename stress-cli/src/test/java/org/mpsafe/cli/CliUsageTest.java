package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Parsing, help, version and usage errors: one line naming the argument, exit 2, nothing run. */
class CliUsageTest {
  @Test
  void helpListsEveryOptionWithItsDefaultAndTheExitCodes() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--help");
    assertEquals(0, r.exit());
    for (String opt : new String[] {"--xcall", "--xc-wait-spin", "on|off", "--cpus", "--interfaces", "--churn-lwps",
        "--duration", "--seed", "--trials", "--keep-going", "--expect", "--json", "--report",
        "--jfr", "--no-detectors", "--quiet", "Default legacy.", "Default: on", "Default: 4", "Default: 5m",
        "--bug", "Default: kern-51632", "--variant", "buggy|fixed", "--deterministic", "--strategy",
        "--wall-cap", "--trace", "--trace-events", "Default: 4096",
        "Exit codes:", "130"}) {
      assertTrue(r.out().contains(opt), () -> "help lacks " + opt + ":\n" + r.out());
    }
  }

  @Test
  void versionNamesTheProject() {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--version");
    assertEquals(0, r.exit());
    assertTrue(r.out().startsWith("mpsafe "), r.out());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
    "--cpus 0|--cpus",
    "--cpus 65|--cpus",
    "--duration abc|--duration",
    "--duration 0s|--duration",
    "--duration -5m|--duration",
    "--xcall bogus|--xcall",
    "--xc-wait-spin maybe|--xc-wait-spin",
    "--xc-wait-spin|--xc-wait-spin",
    "--interfaces 1|--interfaces",
    "--churn-lwps 1|--churn-lwps",
    "--trials 0|--trials",
    "--expect maybe|--expect",
    "--bogus|--bogus",
    "--cpus|--cpus"})
  void badInputIsOneLineNamingTheArgumentAndExit2(String args, String named) {
    String[] argv = ("repro " + args).split(" ");
    CliTestSupport.Result r = CliTestSupport.run(argv);
    assertEquals(2, r.exit(), r.err());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), () -> "not one line:\n" + err);
    assertTrue(err.contains(named), () -> err + " does not name " + named);
    assertFalse(err.contains("Exception"), err);
    assertFalse(r.out().contains("mpsafe repro:"), "a run was started:\n" + r.out());
  }

  @Test
  void missingOutputDirectoryIsAUsageError(@TempDir Path dir) {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--json",
        dir.resolve("no/such/dir/out.json").toString());
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("--json") && r.err().contains("does not exist"), r.err());
    assertFalse(r.out().contains("mpsafe repro:"));
  }

  @Test
  void aDirectoryAsReportFileIsAUsageError(@TempDir Path dir) {
    CliTestSupport.Result r = CliTestSupport.run("repro", "--report", dir.toString());
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("--report") && r.err().contains("is a directory"), r.err());
  }

  @Test
  void unwritableJfrFileIsAUsageError(@TempDir Path dir) throws Exception {
    Path ro = Files.createDirectory(dir.resolve("ro"));
    assertTrue(ro.toFile().setWritable(false, false));
    try {
      if (Files.isWritable(ro)) {
        return; // running as a user that ignores permissions: nothing to check
      }
      CliTestSupport.Result r = CliTestSupport.run("repro", "--jfr", ro.resolve("x.jfr").toString());
      assertEquals(2, r.exit());
      assertTrue(r.err().contains("--jfr"), r.err());
    } finally {
      ro.toFile().setWritable(true, false);
    }
  }

  @Test
  void noCommandIsAUsageError() {
    CliTestSupport.Result r = CliTestSupport.run();
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("repro"), r.err());
  }
}
