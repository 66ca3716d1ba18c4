package org.mpsafe.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Under Fray a timed wait is woken as a "timeout" only when no other thread can run, and what
 * it returns (timed out or not, nanos left) comes from the clock, not from what happened: so
 * code explored by Fray must never decide anything on a timed wait's result, only on its own
 * re-checked condition (as every {@code cv_timedwait} caller in NetBSD does). This test reads
 * the main sources of every module and fails on a timed wait whose result is used (assigned,
 * returned, tested), except the allowlisted places below, each with the reason it is safe.
 */
class TimedWaitAuditTest {
  /** Timed waits: kern's cv_timedwait and the JDK's timed blocking calls. */
  private static final Pattern TIMED = Pattern.compile(
      "\\btimedwait\\s*\\(|\\bawaitNanos\\s*\\(|\\bawaitUntil\\s*\\(|\\.await\\s*\\(.*TimeUnit"
      + "|\\btryLock\\s*\\(\\s*[^)\\s]|\\btryAcquire\\s*\\(.*TimeUnit|\\.poll\\s*\\(.*TimeUnit"
      + "|\\.offer\\s*\\(.*TimeUnit|\\.get\\s*\\(.*TimeUnit");
  /** The result is used: in a condition, assigned, returned, negated or passed on. */
  private static final Pattern USED = Pattern.compile(
      "\\b(if|while)\\s*\\(.*|[^=!<>]=[^=].*|\\breturn\\b.*|!\\s*[\\w.]*\\s*$"
      + "|\\(\\s*[\\w.]+\\.\\w+\\(.*");
  private static final Pattern DECLARATION = Pattern.compile(
      "^\\s*(public|protected|private|static|final|synchronized|\\s)*[\\w<>\\[\\]]+\\s+\\w+"
      + "\\s*\\(.*\\)\\s*(throws [\\w., ]+)?\\{\\s*$");

  /** file name + trimmed line prefix -> why using the result is harmless there. */
  private static final Map<String, String> ALLOWED = Map.of(
      "Machine.java|return stopped.await(",
      "Machine.awaitStop: a host-side API (test code waiting for a machine to stop); no code "
          + "that runs on the machine calls it",
      "Machine.java|if (stopped.await(",
      "the watchdog thread: 'true' only ends the watchdog (the machine has stopped); it is not "
          + "kernel code and is switched off in every Fray scenario (watchdog ZERO)");

  @Test
  void noCodeDecidesOnTheResultOfATimedWait() throws IOException {
    Path root = Path.of(System.getProperty("mpsafe.root", ".."));
    List<String> offenders = new ArrayList<>();
    int timed = 0;
    int files = 0;
    for (String module : List.of("kern", "xcall", "psref", "net-route", "stress-cli", "bench")) {
      Path src = root.resolve(module).resolve("src/main/java");
      if (!Files.isDirectory(src)) {
        continue;
      }
      try (Stream<Path> s = Files.walk(src)) {
        for (Path f : (Iterable<Path>) s.filter(p -> p.toString().endsWith(".java"))::iterator) {
          files++;
          List<String> lines = Files.readAllLines(f);
          for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.startsWith("*") || line.startsWith("//") || line.startsWith("/*")
                || !TIMED.matcher(line).find() || DECLARATION.matcher(line).matches()) {
              continue;
            }
            timed++;
            String key = f.getFileName() + "|" + line;
            boolean allowed = ALLOWED.keySet().stream().anyMatch(key::startsWith);
            if (USED.matcher(line).find() && !allowed) {
              offenders.add(root.relativize(f) + ":" + (i + 1) + ": " + line);
            }
          }
        }
      }
    }
    assertTrue(files > 0, "no sources found under " + root);
    assertTrue(timed > 0, "found no timed wait at all: the audit's patterns are broken");
    assertEquals(List.of(), offenders,
        "timed waits whose result decides something (re-check the condition instead)");
  }

  @Test
  void auditPatternsRecognizeUsedAndIgnoredResults() {
    assertTrue(USED.matcher("if (cv.timedwait(m, 1) == 0) {").find());
    assertTrue(USED.matcher("int e = cv.timedwait(m, 1);").find());
    assertTrue(USED.matcher("return c.awaitNanos(n);").find());
    assertTrue(!USED.matcher("cls.prcCv.timedwait(cls.prcLock, 1);").find());
    assertTrue(TIMED.matcher("cls.prcCv.timedwait(cls.prcLock, 1);").find());
    assertTrue(TIMED.matcher("ok = latch.await(5, TimeUnit.SECONDS);").find());
    assertTrue(DECLARATION.matcher("public int timedwait(KMutex mtx, int ticks) {").matches());
  }
}
