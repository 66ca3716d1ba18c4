package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Spin-then-park ({@link HandoffSpin}): a spinner leaves when its wakeup is published, gives up
 * at its budget or when the machine stops, and no more threads spin than the host has cores.
 * The machines here boot with spinning off, so their own LWPs never hold a spinning slot; the
 * spinner under test is a separate {@code HandoffSpin} with a budget of a minute (never reached
 * by a pass) driven from test threads.
 */
class HandoffSpinTest {
  private static final long MINUTE = TimeUnit.MINUTES.toNanos(1);

  private static Machine bootWithoutSpinning() {
    return Machine.boot(MachineConfig.of(2).withOption(HandoffSpin.OPTION, 0L));
  }

  /** A sleeping LWP: blocked on its own sleep queue until {@link Sleepq#wakeAll}. */
  private static Lwp sleeper(Machine m, Sleepq q) {
    Lwp l = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
      Lwp self = Lwp.current();
      q.enqueue(self);
      q.block(self, "spintest", 0);
    }, "sleeper");
    awaitOrStop(m, () -> l.state() == Lwp.State.SLEEP);
    return l;
  }

  @Test
  void aSpinnerLeavesWhenItsWakeupIsPublished() {
    try (Machine m = bootWithoutSpinning()) {
      HandoffSpin spin = new HandoffSpin(m, m.config().withOption(HandoffSpin.OPTION, MINUTE));
      Sleepq q = new Sleepq();
      Lwp l = sleeper(m, q);
      CompletableFuture<Boolean> spun = CompletableFuture.supplyAsync(() -> spin.awaitWoken(l));
      awaitOrStop(m, () -> spin.spinners() == 1);
      m.run("waker", q::wakeAll);
      assertTrue(spun.join(), "the wakeup came while spinning");
      assertEquals(0, spin.spinners());
      assertCleanShutdown(m);
    }
  }

  @Test
  void aSpinnerGivesUpAtItsBudget() {
    try (Machine m = bootWithoutSpinning()) {
      HandoffSpin spin = new HandoffSpin(m, m.config().withOption(HandoffSpin.OPTION,
          TimeUnit.MILLISECONDS.toNanos(1)));
      Sleepq q = new Sleepq();
      Lwp l = sleeper(m, q);
      assertFalse(spin.awaitWoken(l), "never woken: the budget ends the spin");
      assertFalse(spin.awaitGranted(l), "never granted: the budget ends the spin");
      assertEquals(0, spin.spinners());
      m.run("waker", q::wakeAll);
      assertCleanShutdown(m);
    }
  }

  @Test
  void noMoreSpinnersThanHostCoresAndAStopEndsEverySpin() throws Exception {
    Machine m = bootWithoutSpinning();
    HandoffSpin spin = new HandoffSpin(m, m.config().withOption(HandoffSpin.OPTION, MINUTE));
    Lwp l = sleeper(m, new Sleepq());
    List<CompletableFuture<Boolean>> spinning = new ArrayList<>();
    for (int i = 0; i < HandoffSpin.slots(); i++) {
      spinning.add(CompletableFuture.supplyAsync(() -> spin.awaitWoken(l)));
    }
    awaitOrStop(m, () -> spin.spinners() == HandoffSpin.slots());
    Sleepq q = new Sleepq();
    Lwp woken = sleeper(m, q);
    m.run("waker", q::wakeAll);
    assertFalse(spin.awaitWoken(woken),
        "every slot is taken: refused before looking at a wakeup already published");
    assertEquals(HandoffSpin.slots(), spin.spinners());
    assertEquals(List.of(), m.shutdown(), "threads left after shutdown");
    for (CompletableFuture<Boolean> f : spinning) {
      // The bound is a third of the budget: a spin that ignored the stop would miss it.
      assertFalse(f.get(20, TimeUnit.SECONDS), "the machine stopped: the spin ends unwoken");
    }
    assertEquals(0, spin.spinners());
  }

  @Test
  void theDeterministicMachineNeverSpins() {
    try (Machine m = Machine.boot(MachineConfig.of(2)
        .withOption(HandoffSpin.OPTION, MINUTE)
        .withOption(Deterministic.OPTION,
            Deterministic.of(1, Deterministic.Strategy.parse("random"))))) {
      assertEquals(0, m.spin.budgetNanos());
    }
  }

  @Test
  void aNegativeBudgetIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Machine.boot(MachineConfig.of(1).withOption(HandoffSpin.OPTION, -1L)));
    assertEquals("kern.handoffSpinNanos must be >= 0: -1", e.getMessage());
  }
}
