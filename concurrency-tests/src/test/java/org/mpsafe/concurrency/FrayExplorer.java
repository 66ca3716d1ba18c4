package org.mpsafe.concurrency;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.function.Supplier;
import kotlin.Unit;
import kotlinx.serialization.json.Json;
import org.mpsafe.kern.Machine;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.xcall.Xcall;
import org.pastalab.fray.core.TestRunner;
import org.pastalab.fray.core.command.Configuration;
import org.pastalab.fray.core.command.ExecutionInfo;
import org.pastalab.fray.core.command.LambdaExecutor;
import org.pastalab.fray.core.command.NetworkDelegateType;
import org.pastalab.fray.core.command.SystemTimeDelegateType;
import org.pastalab.fray.core.randomness.ControlledRandomProvider;
import org.pastalab.fray.core.randomness.Randomness;
import org.pastalab.fray.core.scheduler.Scheduler;

/**
 * Runs a scenario under Fray, schedule after schedule, from inside a JUnit test: the in-test
 * launcher of {@code fray-junit} ({@code FrayInTestLauncher}) with the knobs this module needs.
 *
 * <ul>
 *   <li>{@link SeededPos} as the scheduler: exploration is a function of the seed.
 *   <li>Virtual time ({@link SystemTimeDelegateType#MOCK}): {@code System.nanoTime()} advances
 *       by 100 µs per call, so the machine's clock (ticks, timed sleeps) is part of the
 *       schedule and a replay sees the same clock. Timed waits are woken by Fray only when no
 *       thread can run ({@code ignoreTimedBlock}); the code under test re-checks its condition
 *       after every timed wait, so it never depends on how a timed wait ended.
 *   <li>Every iteration runs {@code body} on a fresh Fray-controlled main thread; the body boots
 *       its own machine and shuts it down, so no thread outlives an iteration.
 *   <li>A failure is whatever the body (or any thread Fray controls) throws, or a deadlock
 *       (every thread blocked: a lost wakeup). Exploration stops at the first failure and Fray
 *       saves that iteration's random choices in {@code <report>/recording}.
 * </ul>
 *
 * Reports go to {@code ${fray.workDir}/<name>} ({@code target/fray-report/<name>}):
 * {@code fray.log} and, after a failure, {@code recording/{scheduler,random.json}}.
 */
public final class FrayExplorer {
  private FrayExplorer() {}

  /** In a recording directory: the failure message of the recorded iteration. */
  public static final String FAILURE_FILE = "failure.txt";

  /** Wall-clock budget of one exploration; running out of it fails a test, never passes it. */
  private static final int TIMEOUT_SECONDS = 600;

  /**
   * What an exploration did.
   *
   * @param name the report directory's name
   * @param seed the seed (replays: -1)
   * @param iterations iterations run, the failing one included
   * @param failure the first failure, or null
   * @param report the report directory
   * @param millis wall time of the exploration
   */
  public record Outcome(
      String name, long seed, int iterations, Throwable failure, Path report, long millis) {
    public Path recording() {
      return report.resolve("recording");
    }

    public String summary() {
      return String.format("[fray] %s seed=%d: %d iteration(s), %d ms (%.1f ms/iteration): %s",
          name, seed, iterations, millis, iterations == 0 ? 0.0 : (double) millis / iterations,
          failure == null ? "no failure" : "FAILURE " + firstLine(failure));
    }
  }

  /** The seed of this run: {@code -Dfray.seed=N}, default 1. */
  public static long seed() {
    return Long.getLong("fray.seed", 1L);
  }

  /**
   * Explores up to {@code maxIterations} schedules of {@code body} with seed {@code seed}, after
   * {@link #warmUp} with {@code warmup}.
   */
  public static Outcome explore(
      String name, long seed, int maxIterations, Runnable warmup, Runnable body) {
    FrayJvm.require();
    warmUp(warmup);
    Outcome o = run(name, seed, new SeededPos(seed), maxIterations, false, body);
    System.out.println(o.summary());
    return o;
  }

  /**
   * Replays the iteration recorded in {@code recordingDir} ({@code scheduler},
   * {@code random.json}), after {@link #warmUp} with {@code warmup}.
   */
  public static Outcome replay(String name, Path recordingDir, Runnable warmup, Runnable body) {
    FrayJvm.require();
    warmUp(warmup);
    Scheduler s;
    try {
      String cls = Files.readString(recordingDir.resolve("scheduler")).trim();
      if (!cls.equals(SeededPos.class.getName())) {
        throw new IllegalArgumentException("recording " + recordingDir + " was made by " + cls
            + ", not by " + SeededPos.class.getName());
      }
      String json = Files.readString(recordingDir.resolve("random.json"));
      Randomness r = Json.Default.decodeFromString(Randomness.Companion.serializer(), json);
      s = new SeededPos(r);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Outcome o = run(name, -1, s, 1, true, body);
    System.out.println(o.summary());
    return o;
  }

  /**
   * Initializes every class of the modules under test and runs {@code warmup} once without
   * Fray (see {@link Warmup}); a failure of that uncontrolled run fails the test.
   */
  static void warmUp(Runnable warmup) {
    Warmup.initializeClassesOf(Machine.class, Xcall.class, Psrefs.class, FrayExplorer.class);
    try {
      warmup.run();
    } catch (RuntimeException | Error e) {
      throw new AssertionError("the uncontrolled warm-up run (no Fray) failed: " + e, e);
    }
  }

  private static Outcome run(String name, long seed, Scheduler scheduler, int iterations,
      boolean replay, Runnable body) {
    Path report = Paths.get(System.getProperty("fray.workDir", "target/fray-report"))
        .toAbsolutePath().resolve(name);
    Configuration config = new Configuration(
        new ExecutionInfo(new LambdaExecutor(() -> {
          body.run();
          return Unit.INSTANCE;
        }), false, false, -1),
        report,
        iterations,
        TIMEOUT_SECONDS,
        scheduler,
        new ControlledRandomProvider(),
        false,   // fullSchedule
        false,   // exploreMode: stop at the first failure
        true,    // noExitWhenBugFound: report it to us instead of System.exit
        replay,
        false,   // noFray
        false,   // dummyRun
        NetworkDelegateType.NONE,
        SystemTimeDelegateType.MOCK,
        100_000L,
        true,    // ignoreTimedBlock
        false,   // sleepAsYield
        false,   // resetClassLoader (a lambda has no class loader to reset)
        false,   // redirectStdout
        false,   // abortThreadExecutionAfterMainExit
        false,   // resolveRacingOperationStackTraceHash
        null);   // no timeline coverage
    TestRunner runner = quietly(() -> new TestRunner(config));
    long t0 = System.nanoTime();
    Throwable failure = runner.run();
    long millis = (System.nanoTime() - t0) / 1_000_000;
    int ran = failure == null ? config.getCurrentIteration() : config.getCurrentIteration() + 1;
    Outcome o = new Outcome(name, seed, ran, failure, report, millis);
    if (failure != null && !replay && Files.isDirectory(o.recording())) {
      // What the recorded iteration failed with, for a replay test to compare against.
      try {
        Files.writeString(o.recording().resolve(FAILURE_FILE), failure.getMessage() + "\n");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return o;
  }

  /**
   * Builds the runner with System.out silenced: TestRunner keeps the stream it sees at
   * construction for a progress screen drawn with ANSI clear-screen codes, which would garble
   * Maven's log. Fray's log lines (failures, the run summary) still reach the console.
   */
  private static <T> T quietly(Supplier<T> s) {
    PrintStream out = System.out;
    System.setOut(new PrintStream(OutputStream.nullOutputStream(), false, StandardCharsets.UTF_8));
    try {
      return s.get();
    } finally {
      System.setOut(out);
    }
  }

  /** The first line of a failure and of its causes, for summaries. */
  public static String firstLine(Throwable t) {
    String m = String.valueOf(t.getMessage());
    int nl = m.indexOf('\n');
    return t.getClass().getSimpleName() + ": " + (nl < 0 ? m : m.substring(0, nl));
  }

  /** Every message in a failure's chain (causes and suppressed), for assertions. */
  public static String allMessages(Throwable t) {
    StringBuilder sb = new StringBuilder();
    collect(t, sb, 0);
    return sb.toString();
  }

  private static void collect(Throwable t, StringBuilder sb, int depth) {
    if (t == null || depth > 8) {
      return;
    }
    sb.append(t).append('\n');
    for (Throwable s : t.getSuppressed()) {
      collect(s, sb, depth + 1);
    }
    collect(t.getCause(), sb, depth + 1);
  }

  static List<String> lines(Path p) {
    try {
      return Files.readAllLines(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
