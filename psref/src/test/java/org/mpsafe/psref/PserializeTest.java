package org.mpsafe.psref;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.until;
import static org.mpsafe.psref.Fixtures.awaitPanic;
import static org.mpsafe.psref.Fixtures.boot;
import static org.mpsafe.psref.Fixtures.kassert;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;
import static org.mpsafe.psref.Fixtures.p;
import static org.mpsafe.psref.Fixtures.spinUntil;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;
import org.mpsafe.xcall.Xcall;

/**
 * pserialize: read sections against pserialize_perform, and the sleepability rules that make
 * psref_target_destroy illegal inside a read section or a softint.
 */
class PserializeTest {
  private static final String SUBR_PSERIALIZE_C = "sys/kern/subr_pserialize.c";

  @Test
  void readSectionsRaiseIplToSoftserialAndNest() {
    try (Machine m = boot(1)) {
      String r = m.call("reader", () -> {
        StringBuilder sb = new StringBuilder();
        int s1 = Pserialize.readEnter();
        sb.append(Kern.curcpu().ipl() == Ipl.IPL_SOFTSERIAL).append(' ')
            .append(Pserialize.inReadSection()).append(' ');
        int s2 = Pserialize.readEnter();
        Pserialize.readExit(s2);
        sb.append(Pserialize.inReadSection()).append(' ');
        Pserialize.readExit(s1);
        sb.append(Pserialize.inReadSection()).append(' ').append(Kern.curcpu().ipl());
        return sb.toString();
      });
      assertEquals("true true true false 0", r);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void performWithNoReadersTakesOneHighpriRound() {
    try (Machine m = boot(2)) {
      Pserialize psz = Pserialize.create("test");
      long[] delta = m.call("writer", () -> {
        Xcall xc = Xcall.of(m);
        long h0 = xc.highpriCount();
        long l0 = xc.lowpriCount();
        psz.perform();
        return new long[] {xc.highpriCount() - h0, xc.lowpriCount() - l0};
      });
      assertArrayEquals(new long[] {1, 0}, delta);
      psz.destroy();
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /**
   * A reader bound to CPU 1 stays inside its read section until told: the performer sleeps in
   * xc_wait and does not return; once the reader leaves, it does.
   */
  @Test
  void performDoesNotReturnWhileAReaderIsInsideItsSection() {
    try (Machine m = boot(2)) {
      Pserialize psz = Pserialize.create("test");
      Xcall xc = m.call("xc_init", () -> Xcall.of(m));
      AtomicBoolean inside = new AtomicBoolean();
      AtomicBoolean leave = new AtomicBoolean();
      AtomicBoolean done = new AtomicBoolean();
      AtomicBoolean readerInsideAtReturn = new AtomicBoolean();
      Lwp reader = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        int s = Pserialize.readEnter();
        inside.set(true);
        spinUntil(leave);
        inside.set(false);
        Pserialize.readExit(s);
      }, "reader");
      until(m, () -> inside.get() && m.cpu(1).curlwp() == reader);
      long h0 = xc.highpriCount();
      Lwp performer = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        psz.perform();
        readerInsideAtReturn.set(inside.get());
        done.set(true);
      }, "performer");
      until(m, () -> xc.highpriCount() == h0 + 1
          && performer.state() == Lwp.State.SLEEP && "xchicv".equals(performer.wchan()));
      assertFalse(done.get(), "pserialize_perform returned while a reader was inside");
      assertTrue(inside.get());
      leave.set(true);
      until(m, () -> done.get() || !m.running());
      assertTrue(m.panic().isEmpty(), () -> m.panic().get().message());
      assertFalse(readerInsideAtReturn.get());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("kernel diagnostic assertion \"!cpu_softintr_p()\" failed (pserialize_perform)")
  void cpuSoftintrP_performFromSoftint() throws InterruptedException {
    try (Machine m = boot(2)) {
      Pserialize psz = Pserialize.create("test");
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, psz::perform, "writer");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(h), "kick");
      Panic pc = awaitPanic(m);
      assertEquals(kassert("!cpu_softintr_p()", SUBR_PSERIALIZE_C, 149, ""), pc.message());
      assertEquals("softnet/1", pc.lwp());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("kernel diagnostic assertion \"pserialize_in_read_section()\" failed")
  void pserializeInReadSection_readExitWithoutEnter() {
    try (Machine m = boot(1)) {
      KernelPanic e = assertThrows(KernelPanic.class,
          () -> m.run("unbalanced", () -> Pserialize.readExit(Ipl.IPL_NONE)));
      assertEquals(kassert("pserialize_in_read_section()", SUBR_PSERIALIZE_C, 275, ""),
          e.panic().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** ASSERT_SLEEPABLE() at the top of psref_target_destroy, from a read section. */
  @Test
  @DisplayName("assert_sleepable: pserialize caller=%p (psref_target_destroy)")
  void assertSleepablePserialize_targetDestroyInReadSection() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      AtomicReference<Lwp> caller = new AtomicReference<>();
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("destroyer", () -> {
        caller.set(Kern.curlwp());
        Pserialize.readEnter();
        Psrefs.targetDestroy(t, cls);
      }));
      assertEquals("assert_sleepable: pserialize caller=" + p(caller.get()),
          e.panic().message());
      assertFalse(t.draining(), "the assertion comes before anything is changed");
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("assert_sleepable: pserialize caller=%p (pserialize_perform)")
  void assertSleepablePserialize_performInReadSection() {
    try (Machine m = boot(2)) {
      Pserialize psz = Pserialize.create("test");
      AtomicReference<Lwp> caller = new AtomicReference<>();
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("writer", () -> {
        caller.set(Kern.curlwp());
        Pserialize.readEnter();
        psz.perform();
      }));
      assertEquals("assert_sleepable: pserialize caller=" + p(caller.get()),
          e.panic().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("assert_sleepable: softint caller=%p (psref_target_destroy)")
  void assertSleepableSoftint_targetDestroyFromSoftint() throws InterruptedException {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      AtomicReference<Lwp> caller = new AtomicReference<>();
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> {
        caller.set(Kern.curlwp());
        Psrefs.targetDestroy(t, cls);
      }, "destroyer");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> m.softint().schedule(h), "kick");
      Panic pc = awaitPanic(m);
      assertEquals("assert_sleepable: softint caller=" + p(caller.get()), pc.message());
      assertEquals("softnet/0", pc.lwp());
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
