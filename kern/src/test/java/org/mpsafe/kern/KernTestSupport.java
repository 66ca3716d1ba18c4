package org.mpsafe.kern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * Helpers shared by the kern tests.
 *
 * <p>An assertion that fails inside an LWP throws {@link AssertionError} there; the machine turns
 * it into a panic ({@code kthread NAME: uncaught ...}), which {@link #assertNoPanic} reports with
 * its text. So every test ends with {@link #assertCleanShutdown} (or checks the panic it wanted).
 */
final class KernTestSupport {
  private KernTestSupport() {}

  /** Upper bound for anything a test waits for; never reached by a passing test. */
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** Fails the test with the panic's text if the machine panicked. */
  static void assertNoPanic(Machine m) {
    m.panic().ifPresent(p -> fail("unexpected " + p + "\n" + String.join("\n", p.javaStack()
        .stream().map(StackTraceElement::toString).limit(30).toList())));
    m.hang().ifPresent(h -> fail("unexpected " + h.headline() + "\n"
        + String.join("\n", h.lwps())));
  }

  /** No panic, no hang, and shutdown leaves no thread behind. */
  static void assertCleanShutdown(Machine m) {
    assertNoPanic(m);
    assertEquals(List.of(), m.shutdown(), "threads left after shutdown");
    assertEquals(Machine.Outcome.SHUTDOWN, m.outcome());
  }

  /** Waits (in the test thread) until {@code cond} holds or the machine stopped; then checks. */
  static void awaitOrStop(Machine m, BooleanSupplier cond) {
    await().atMost(TIMEOUT).until(() -> cond.getAsBoolean() || !m.running());
    assertNoPanic(m);
    assertTrue(cond.getAsBoolean(), "condition not reached, machine " + m.outcome());
  }

  /**
   * Spins in an LWP, holding its CPU and making no preemption point, until {@code cond}: the way
   * a test keeps a CPU busy at a chosen place. Unwinds if the machine stops.
   */
  static void spinUntil(BooleanSupplier cond) {
    Machine m = Kern.curlwp().machine();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!cond.getAsBoolean()) {
      m.checkRunning();
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("spinUntil: condition not reached in " + TIMEOUT);
      }
      Thread.onSpinWait();
    }
  }

  /** {@link #spinUntil} a reference is set, and returns it. */
  static <T> T spinFor(AtomicReference<T> ref) {
    spinUntil(() -> ref.get() != null);
    return ref.get();
  }

  /**
   * Spins (no preemption point) until {@code w} waits for CPU {@code c} and the CPU's preemption
   * points can see it: {@code w} is RUNNABLE and {@code c}'s wanted priority (the one volatile
   * read a preemption point makes) has reached it. Both are published in one critical section of
   * the scheduler, state first, so waiting for the state alone would race with the second write.
   */
  static void spinUntilWaiting(Lwp w, Cpu c) {
    spinUntil(() -> w.state() == Lwp.State.RUNNABLE && c.wantPri >= w.priority());
  }

  /** Throws an AssertionError (a panic of the LWP) unless {@code cond}. */
  static void check(boolean cond, String what) {
    if (!cond) {
      throw new AssertionError(what);
    }
  }

  /** Waits until every softint LWP idles: no CPU is busy with boot work any more. */
  static void awaitSoftintsIdle(Machine m) {
    awaitOrStop(m, () -> m.lwps().stream()
        .filter(l -> (l.pflag() & Lwp.LP_INTR) != 0)
        .allMatch(l -> l.state() == Lwp.State.IDLE));
  }

  /** The LWP of this machine named {@code name}. */
  static Lwp lwpNamed(Machine m, String name) {
    return m.lwps().stream().filter(l -> l.name().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no LWP " + name));
  }
}
