package org.mpsafe.xcall;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;

/**
 * Death tests: each misuse of xcall fires its assertion with NetBSD's text ({@code
 * subr_xcall.c}), panics the machine (every CPU stopped), and shutdown still joins every LWP.
 * Misuse of the Java API by user code (not a kernel rule) is an exception, not a panic.
 */
class XcallAssertionTest {
  private static final Duration LIMIT = Duration.ofSeconds(60);
  private static final String SOFTINTR =
      "kernel diagnostic assertion \"!cpu_intr_p() && !cpu_softintr_p()\" failed: "
          + "file \"sys/kern/subr_xcall.c\", line ";
  private static final XcFunc NOP = (x, y) -> { };

  private static Machine boot(int ncpu) {
    return Machine.boot(MachineConfig.of(ncpu));
  }

  /** Runs {@code body} in a softnet softint on CPU 0 and returns the panic it caused. */
  private static Panic panicInSoftint(Machine m, Runnable body) {
    Softint.Handle h = m.softint().establish(Ipl.IPL_SOFTNET, body, "misuse");
    m.softint().scheduleCpu(h, m.cpu(0));
    return awaitPanic(m);
  }

  /**
   * Waits for the machine to stop and returns its panic. Not by polling {@code m.panic()}: kern
   * publishes the panic record a moment before {@code stop(PANIC)} sets the outcome, and
   * {@link Machine#awaitStop} is the signal that follows both.
   */
  private static Panic awaitPanic(Machine m) {
    await().atMost(LIMIT).pollInterval(Duration.ofMillis(2))
        .until(() -> m.awaitStop(Duration.ZERO));
    assertTrue(m.panic().isPresent(), () -> "stopped without a panic: " + m.outcome());
    assertEquals(Machine.Outcome.PANIC, m.outcome());
    assertFalse(m.running());
    return m.panic().get();
  }

  private static void assertShutdownLeavesNoThread(Machine m) {
    assertEquals(List.of(), m.shutdown());
    for (Lwp l : m.lwps()) {
      assertEquals(Lwp.State.ZOMBIE, l.state(), () -> l.name() + " still " + l.state());
    }
  }

  @Test
  void broadcastFromSoftintPanics() {
    try (Machine m = boot(2)) {
      Panic p = panicInSoftint(m, () -> Xcall.broadcast(0, NOP, null, null));
      assertEquals(SOFTINTR + "184 ", p.message());
      assertEquals("softnet/0", p.lwp());
      assertEquals(0, p.cpu());
      assertShutdownLeavesNoThread(m);
    }
  }

  @Test
  void highPriorityBroadcastFromSoftintPanics() {
    try (Machine m = boot(2)) {
      Panic p = panicInSoftint(m, () -> Xcall.broadcast(Xcall.XC_HIGHPRI, NOP, null, null));
      assertEquals(SOFTINTR + "184 ", p.message());
      assertShutdownLeavesNoThread(m);
    }
  }

  @Test
  void unicastFromSoftintPanics() {
    try (Machine m = boot(2)) {
      Panic p = panicInSoftint(m, () -> Xcall.unicast(0, NOP, null, null, m.cpu(1)));
      assertEquals(SOFTINTR + "204 ", p.message());
      assertShutdownLeavesNoThread(m);
    }
  }

  @Test
  void unicastToNullCpuPanics() {
    try (Machine m = boot(2)) {
      KernelPanic e = assertThrows(KernelPanic.class,
          () -> m.run("misuse", () -> Xcall.unicast(0, NOP, null, null, null)));
      String expected = "kernel diagnostic assertion \"ci != NULL\" failed: "
          + "file \"sys/kern/subr_xcall.c\", line 203 ";
      assertEquals(expected, e.panic().message());
      assertEquals("panic: " + expected, e.getMessage());
      assertEquals(expected, m.panic().get().message());
      assertEquals("misuse", m.panic().get().lwp());
      assertShutdownLeavesNoThread(m);
    }
  }

  @Test
  void xcWaitFromSoftintPanics() {
    try (Machine m = boot(2)) {
      Panic p = panicInSoftint(m, () -> Xcall.waitFor(1));
      assertEquals(SOFTINTR + "223 ", p.message());
      assertShutdownLeavesNoThread(m);
    }
  }

  @ParameterizedTest(name = "ipl {0}")
  @ValueSource(ints = {Ipl.IPL_NONE, Ipl.IPL_VM, Ipl.IPL_HIGH})
  void highPriorityIplMustBeASoftIpl(int ipl) {
    try (Machine m = boot(1)) {
      KernelPanic e = assertThrows(KernelPanic.class,
          () -> m.run("misuse", () -> Xcall.XC_HIGHPRI_IPL(ipl)));
      assertEquals("Invalid IPL: " + ipl, e.panic().message());
      assertEquals("Invalid IPL: " + ipl, m.panic().get().message());
      assertShutdownLeavesNoThread(m);
    }
  }

  @Test
  void lowPriorityCallbackReturningWithPreemptionDisabledPanics() {
    try (Machine m = boot(2)) {
      XcFunc leaky = (x, y) -> Kern.kpreemptDisable();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null,
          () -> Xcall.waitFor(Xcall.unicast(0, leaky, null, null, m.cpu(1))), "requester");
      Panic p = awaitPanic(m);
      Pattern expected = Pattern.compile(Pattern.quote(
          "kernel diagnostic assertion \"l->l_nopreempt == 0\" failed: "
              + "file \"sys/kern/subr_xcall.c\", line ")
          + "\\d+ lwp 0x[0-9a-f]+ nopreempt 1 func 0x[0-9a-f]+");
      assertTrue(expected.matcher(p.message()).matches(), p.message());
      assertEquals("xcall/1", p.lwp());
      assertEquals(1, p.cpu());
      assertShutdownLeavesNoThread(m);
    }
  }

  /** Never a silently dead xcall thread: a throwing callback panics, naming it and the cause. */
  @Test
  void lowPriorityCallbackThatThrowsPanicsNamingTheXcallThread() {
    try (Machine m = boot(2)) {
      XcFunc boom = (x, y) -> {
        throw new IllegalStateException("boom");
      };
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null,
          () -> Xcall.waitFor(Xcall.unicast(0, boom, null, null, m.cpu(1))), "requester");
      Panic p = awaitPanic(m);
      assertTrue(Pattern.matches("xcall/1: xcall function 0x[0-9a-f]+ threw "
          + Pattern.quote("java.lang.IllegalStateException: boom"), p.message()), p.message());
      assertEquals("xcall/1", p.lwp());
      assertShutdownLeavesNoThread(m);
      assertTrue(Thread.getAllStackTraces().keySet().stream()
          .noneMatch(t -> t.isAlive() && t.getName().equals("xcall/1")),
          "an xcall/1 thread is still alive");
    }
  }

  @Test
  void highPriorityCallbackThatThrowsPanicsInItsSoftint() {
    try (Machine m = boot(2)) {
      XcFunc boom = (x, y) -> {
        throw new ArithmeticException("/ by zero");
      };
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> Xcall.waitFor(
          Xcall.unicast(Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTNET), boom, null, null, m.cpu(1))),
          "requester");
      Panic p = awaitPanic(m);
      assertTrue(Pattern.matches("softnet/1: xcall function 0x[0-9a-f]+ threw "
          + Pattern.quote("java.lang.ArithmeticException: / by zero"), p.message()),
          p.message());
      assertEquals("softnet/1", p.lwp());
      assertShutdownLeavesNoThread(m);
    }
  }

  /** An XC_IPL code beyond the four soft levels is a bad argument, not a kernel panic. */
  @Test
  void unknownIplCodeInFlagsIsIllegalArgument() {
    try (Machine m = boot(1)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> m.run("misuse", () -> Xcall.broadcast(Xcall.XC_HIGHPRI | 0x0700, NOP, null,
              null)));
      assertTrue(e.getMessage().contains("0x701"), e.getMessage());
      assertTrue(m.running());
      assertTrue(m.panic().isEmpty());
      assertShutdownLeavesNoThread(m);
    }
  }

  @Test
  void earlyReturnDetectorIsOffByDefault() {
    try (Machine m = boot(2)) {
      Xcall xc = Xcall.of(m);
      assertFalse(xc.detectorEnabled());
      m.run("requester", () -> Xcall.waitFor(Xcall.broadcast(0, NOP, null, null)));
      assertEquals(0, xc.earlyReturns());
      assertEquals(List.of(), xc.earlyReturnEvents());
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> xc.onEarlyReturn(er -> { }));
      assertTrue(e.getMessage().contains(Xcall.OPTION_DETECTOR), e.getMessage());
      assertShutdownLeavesNoThread(m);
    }
  }
}
