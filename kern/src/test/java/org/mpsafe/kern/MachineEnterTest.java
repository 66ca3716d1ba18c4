package org.mpsafe.kern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** {@link Machine#enter}: a host thread adopted as an LWP across calls until exit. */
class MachineEnterTest {
  @Test
  void boundEntryStaysOnItsCpuUntilExit() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      Machine.Entry e = m.enter("bench/0", m.cpu(1));
      Lwp l = e.lwp();
      assertSame(l, Kern.curlwp());
      assertEquals(1, Kern.curcpuIndex());
      assertTrue(l.isBound());
      assertSame(l, m.cpu(1).curlwp());
      assertTrue(m.lwps().contains(l));
      // kernel code across several "calls", with host code in between, stays on cpu1
      KMutex mtx = new KMutex("t");
      for (int i = 0; i < 100; i++) {
        mtx.enter();
        mtx.exit();
        Kern.preempt();
        assertEquals(1, Kern.curcpuIndex());
      }
      e.exit();
      assertNull(Lwp.currentOrNull());
      assertFalse(m.lwps().contains(l));
      assertEquals(Lwp.State.ZOMBIE, l.state());
      e.exit(); // a second exit does nothing
      // the CPU is free again: a kthread bound there runs
      AtomicBoolean ran = new AtomicBoolean();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> ran.set(true), "after");
      await().atMost(Duration.ofSeconds(10)).untilTrue(ran);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void boundEntryIsPreemptedByHigherPriorityAndComesBack() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      try (Machine.Entry e = m.enter("host", m.cpu(0))) {
        AtomicBoolean ran = new AtomicBoolean();
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> ran.set(true), "k");
        // the kthread outranks the host LWP: it runs at the next preemption point
        await().pollInSameThread().atMost(Duration.ofSeconds(10)).until(() -> {
          Kern.preempt();
          return ran.get();
        });
        assertSame(e.lwp(), Kern.curlwp());
        assertEquals(0, Kern.curcpuIndex());
      }
      assertNull(Lwp.currentOrNull());
    }
  }

  @Test
  void unboundEntryAndMisuse() {
    try (Machine m = Machine.boot(MachineConfig.of(2));
        Machine other = Machine.boot(MachineConfig.of(1))) {
      assertThrows(IllegalArgumentException.class, () -> m.enter("x", other.cpu(0)));
      try (Machine.Entry e = m.enter("host", null)) {
        assertFalse(e.lwp().isBound());
        assertThrows(IllegalStateException.class, () -> m.enter("again", null));
        assertThrows(IllegalStateException.class, () -> m.run("nested", () -> {}));
        AtomicReference<Throwable> t = new AtomicReference<>();
        Thread x = new Thread(() -> {
          try {
            e.exit();
          } catch (Throwable ex) {
            t.set(ex);
          }
        });
        x.start();
        x.join();
        assertTrue(t.get() instanceof IllegalStateException, String.valueOf(t.get()));
      } catch (InterruptedException ex) {
        throw new AssertionError(ex);
      }
      // after exit the thread can use run(...) again
      assertEquals(2, (int) m.call("after", () -> Kern.curlwp().machine().ncpu()));
    }
  }

  @Test
  void hostThreadIsAdoptedThroughItsField() throws InterruptedException {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread t = HostThread.factory("host").newThread(() -> {
        try {
          assertNull(Lwp.currentOrNull());
          try (Machine.Entry e = m.enter("host/1", m.cpu(1))) {
            assertSame(e.lwp(), Kern.curlwp());
            assertSame(e.lwp(), ((HostThread) Thread.currentThread()).adopted);
            assertEquals(1, Kern.curcpuIndex());
          }
          assertNull(Lwp.currentOrNull());
          assertNull(((HostThread) Thread.currentThread()).adopted);
          assertEquals(0, (int) m.call("call", () -> Kern.curlwp().psrefs()));
          assertNull(Lwp.currentOrNull());
        } catch (Throwable ex) {
          failure.set(ex);
        }
      });
      assertTrue(t.isDaemon());
      assertTrue(t.getName().startsWith("host-"));
      t.start();
      t.join();
      if (failure.get() != null) {
        throw new AssertionError(failure.get());
      }
    }
  }

  @Test
  void exitAfterShutdownOnlyForgetsTheAdoption() {
    Machine m = Machine.boot(MachineConfig.of(2));
    Machine.Entry e = m.enter("host", m.cpu(0));
    assertTrue(m.shutdown().isEmpty());
    e.exit();
    assertNull(Lwp.currentOrNull());
    assertThrows(MachineStopped.class, () -> m.enter("late", null));
    assertNull(Lwp.currentOrNull());
    assertTrue(m.lwps().stream().noneMatch(l -> l == e.lwp()));
  }

  @Test
  void exitWithAPsrefHeldPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      Machine.Entry e = m.enter("host", m.cpu(0));
      e.lwp().psrefAcquired();
      KernelPanic p = assertThrows(KernelPanic.class, e::exit);
      assertTrue(p.getMessage().contains("l->l_psrefs == 0"), p.getMessage());
      assertNull(Lwp.currentOrNull());
    }
  }
}
