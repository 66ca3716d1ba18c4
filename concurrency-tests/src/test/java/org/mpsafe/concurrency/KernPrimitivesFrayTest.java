package org.mpsafe.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.mpsafe.concurrency.FrayExplorer.Outcome;

/**
 * kern's primitives under Fray ({@link KernScenarios}): every iteration of a bounded budget
 * must pass. A lost wakeup shows up as a Fray deadlock report.
 */
class KernPrimitivesFrayTest {
  static final int ITERATIONS = 150;

  private static void explore(String name, Runnable scenario) {
    Outcome o = FrayExplorer.explore(name, FrayExplorer.seed(), ITERATIONS, scenario, scenario);
    assertNull(o.failure(), () -> FrayExplorer.allMessages(o.failure()));
    assertEquals(ITERATIONS, o.iterations());
  }

  @Test
  void mutexAndCondvarLoseNoWakeupAndExcludeMutually() {
    explore("kern-mutex-cv", KernScenarios::mutexCondvarRing);
  }

  @Test
  void cpuHandoffAndSoftintWakeupLoseNoWakeup() {
    explore("kern-cpu-handoff", KernScenarios::cpuHandoff);
  }

  @Test
  void boundLwpNeverMigrates() {
    explore("kern-bound", KernScenarios::boundNeverMigrates);
  }
}
