package org.mpsafe.kern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.TIMEOUT;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.lwpNamed;
import static org.mpsafe.kern.KernTestSupport.spinUntil;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** KASSERT, KASSERTMSG and panic: NetBSD's text, and what a panic does to the machine. */
class KassertTest {

  /** Runs {@code body} on a fresh 2-CPU machine and returns the panic it must cause. */
  private static Panic panicOf(Runnable body) {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("asserter", body));
      assertSame(e.panic(), m.panic().orElseThrow());
      assertEquals(List.of(), m.shutdown());
      return e.panic();
    }
  }

  @Test
  void kassertFailureHasNetBsdText() {
    Panic p = panicOf(() -> Kassert.kassert(false, "x == y", "sys/kern/foo.c", 12));
    assertEquals("kernel diagnostic assertion \"x == y\" failed: file \"sys/kern/foo.c\", line 12 ",
        p.message());
    assertEquals("panic: kernel diagnostic assertion \"x == y\" failed: file \"sys/kern/foo.c\","
        + " line 12 ", p.headline());
  }

  @Test
  void kassertThatHoldsDoesNothing() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      m.run("ok", () -> {
        Kassert.kassert(true, "1", "f.c", 1);
        Kassert.kassertMsg(true, "1", "f.c", 1, "never %s", "printed");
      });
      assertTrue(Kassert.DIAGNOSTIC, "DIAGNOSTIC is on by default");
      assertCleanShutdown(m);
    }
  }

  /** KASSERTMSG appends the message: {@code %p} of null is 0x0, of a KObject its address; {@code %u} of a CPU its index. */
  @Test
  void kassertMsgAppendsFormattedMessage() {
    KMutex obj = new KMutex("obj");
    AtomicReference<Cpu> cpu = new AtomicReference<>();
    Panic p = panicOf(() -> {
      cpu.set(Kern.curcpu());
      Kassert.kassertMsg(false, "(target->prt_class == class)", "sys/kern/subr_psref.c", 485,
          "mismatched psref target class: %p (ref) != %p (expected) on cpu%u", null, obj,
          Kern.curcpu());
    });
    String addr = "0x" + Long.toHexString(obj.kaddr());
    assertTrue(addr.matches("0xffffc[0-9a-f]{11}"), addr);
    assertEquals("kernel diagnostic assertion \"(target->prt_class == class)\" failed: file "
        + "\"sys/kern/subr_psref.c\", line 485 mismatched psref target class: 0x0 (ref) != "
        + addr + " (expected) on cpu" + cpu.get().index(), p.message());
    assertEquals(cpu.get().index(), p.cpu());
    assertEquals("asserter", p.lwp());
  }

  @Test
  void panicFormatsLikeTheKernelsPrintf() {
    Panic p = panicOf(() -> Kassert.panic("%s: bad thing %d at %x, 100%% sure (%zu)",
        "foo_bar", 7, 255L, 3));
    assertEquals("foo_bar: bad thing 7 at ff, 100% sure (3)", p.message());
    assertEquals("panic: foo_bar: bad thing 7 at ff, 100% sure (3)", p.headline());
  }

  @Test
  void formatPrintsMissingArgumentsAsQuestionMarks() {
    assertEquals("a=? b=%q", Kassert.format("a=%d b=%q"));
    assertEquals("0x0", Kaddr.format(null));
    assertEquals("0x2", Kaddr.format(2L));
  }

  /**
   * A panic records CPU and LWP, throws KernelPanic in the panicking thread, makes the outcome
   * PANIC, and stops every CPU: an LWP spinning through preemption points on the other CPU
   * unwinds (ZOMBIE, thread ended) and its counter never moves again.
   */
  @Test
  void panicStopsEveryCpu() throws InterruptedException {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicLong counter = new AtomicLong();
      AtomicReference<KernelPanic> thrown = new AtomicReference<>();
      AtomicBoolean afterPanic = new AtomicBoolean();
      Lwp spinner = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        for (;;) {
          counter.incrementAndGet();
          Kern.preempt();
        }
      }, "spinner");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        spinUntil(() -> counter.get() > 1000);
        try {
          Kassert.panic("%s: deliberate", "test");
        } catch (KernelPanic e) {
          thrown.set(e);
          throw e;
        } finally {
          afterPanic.set(true);
        }
      }, "panicker");
      assertTrue(m.awaitStop(TIMEOUT));
      Panic p = m.panic().orElseThrow();
      assertEquals("test: deliberate", p.message());
      assertEquals(1, p.cpu());
      assertEquals("panicker", p.lwp());
      assertEquals(Machine.Outcome.PANIC, m.outcome());
      assertFalse(m.running());
      awaitTrue(() -> afterPanic.get() && spinner.state() == Lwp.State.ZOMBIE);
      assertSame(p, thrown.get().panic());
      assertEquals("panic: test: deliberate", thrown.get().getMessage());
      long frozen = counter.get();
      assertEquals(List.of(), m.shutdown());
      assertFalse(spinner.thread.isAlive());
      assertEquals(frozen, counter.get());
      assertTrue(p.javaStack().stream().anyMatch(f -> f.getMethodName().contains("lambda")),
          "the Java stack of the panicking thread");
    }
  }

  private static void awaitTrue(BooleanSupplier c) {
    await().atMost(TIMEOUT).until(c::getAsBoolean);
  }

  /** Only the first panic is recorded; a later one in another LWP just unwinds that LWP. */
  @Test
  void firstPanicWins() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicBoolean second = new AtomicBoolean();
      AtomicReference<String> secondMessage = new AtomicReference<>();
      Lwp late = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        // no preemption point: still on its CPU after the first panic
        while (!second.get()) {
          Thread.onSpinWait();
        }
        try {
          Kassert.panic("second");
        } catch (KernelPanic e) {
          secondMessage.set(e.panic().message());
          throw e;
        }
      }, "late");
      awaitTrue(() -> late.state() == Lwp.State.ONPROC);
      assertThrows(KernelPanic.class, () -> m.run("first", () -> Kassert.panic("first")));
      second.set(true);
      awaitTrue(() -> late.state() == Lwp.State.ZOMBIE);
      assertEquals("second", secondMessage.get());
      assertEquals("first", m.panic().orElseThrow().message());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** ASSERT_SLEEPABLE in a softint: {@code assert_sleepable: softint caller=0x...}. */
  @Test
  void assertSleepableInSoftintPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, Kern::assertSleepable, "s");
      m.run("sleepable", Kern::assertSleepable); // fine in an LWP
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(h), "sched");
      Panic p = awaitPanic(m);
      Lwp softnet1 = lwpNamed(m, "softnet/1");
      assertEquals("assert_sleepable: softint caller=" + Kaddr.format(softnet1), p.message());
      assertTrue(p.message().matches("assert_sleepable: softint caller=0x[0-9a-f]+"));
      assertEquals(1, p.cpu());
      assertEquals("softnet/1", p.lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** A softint handler that returns holding a psref: {@code softint_execute: l_psrefs=1, sh_func=0x...}. */
  @Test
  void psrefLeakAtSoftintReturnPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET,
          () -> Kern.curlwp().psrefAcquired(), "leaky");
      m.softint().scheduleCpu(h, m.cpu(0));
      Panic p = awaitPanic(m);
      assertEquals("kernel diagnostic assertion \"l->l_psrefs == 0\" failed: file "
          + "\"sys/kern/kern_softint.c\", line 593 softint_execute: l_psrefs=1, sh_func="
          + Kaddr.format(h) + "\n", p.message());
      assertEquals(0, p.cpu());
      assertEquals("softnet/0", p.lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** An LWP that exits holding a psref: {@code lwp_exit: l_psrefs=1}. */
  @Test
  void psrefLeakAtLwpExitPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> Kern.curlwp().psrefAcquired(), "leaker");
      Panic p = awaitPanic(m);
      assertEquals("kernel diagnostic assertion \"l->l_psrefs == 0\" failed: file "
          + "\"sys/kern/kern_lwp.c\", line 1094 lwp_exit: l_psrefs=1", p.message());
      assertEquals("leaker", p.lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** curlwp_bindx() in an LWP that is not bound: {@code KASSERT(curlwp->l_pflag & LP_BOUND)}. */
  @Test
  void curlwpBindxWhenNotBoundPanics() {
    Panic p = panicOf(() -> Kern.curlwpBindx(0));
    assertEquals("kernel diagnostic assertion \"curlwp->l_pflag & LP_BOUND\" failed: file "
        + "\"sys/sys/lwp.h\", line 552 ", p.message());
  }

  /** A kthread body that throws panics {@code kthread NAME: uncaught ...}. */
  @Test
  void uncaughtExceptionInKthreadPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        throw new IllegalStateException("boom");
      }, "thrower");
      Panic p = awaitPanic(m);
      assertEquals("kthread thrower: uncaught java.lang.IllegalStateException: boom",
          p.message());
      assertEquals(1, p.cpu());
      assertEquals("thrower", p.lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** Panic's trace holds the last events of every CPU, the panic event last on its CPU. */
  @Test
  void panicCarriesTheLastTraceEvents() {
    int kind = Trace.kind("kassert-test");
    Panic p = panicOf(() -> {
      Trace.record(kind, 1, 2);
      Trace.record(kind, 3, 4);
      Kassert.panic("traced");
    });
    List<Trace.Event> mine = p.trace().stream().filter(e -> e.cpu() == p.cpu()).toList();
    List<String> last3 = mine.subList(mine.size() - 3, mine.size()).stream()
        .map(e -> e.kind() + "(" + e.a() + "," + e.b() + ")").toList();
    assertEquals(List.of("kassert-test(1,2)", "kassert-test(3,4)", "panic(0,0)"), last3);
  }

  static Panic awaitPanic(Machine m) {
    await().atMost(TIMEOUT).until(() -> m.panic().isPresent());
    assertEquals(Machine.Outcome.PANIC, m.outcome());
    return m.panic().get();
  }
}
