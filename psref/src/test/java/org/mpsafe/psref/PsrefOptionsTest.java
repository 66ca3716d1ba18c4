package org.mpsafe.psref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.awaitPanic;
import static org.mpsafe.psref.Fixtures.boot;
import static org.mpsafe.psref.Fixtures.callBound;
import static org.mpsafe.psref.Fixtures.kassert;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;
import static org.mpsafe.psref.Fixtures.p;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;

/**
 * The later NetBSD features psref offers as boot options: DEBUG's duplicate / existence checks
 * (NetBSD 8) and the per-LWP count {@code l_psrefs} checked when a softint handler returns and
 * when an LWP exits. (The high-priority drain is in {@link PsrefDestroyTest}.)
 */
class PsrefOptionsTest {

  @Test
  void defaultsAreThe2016Kernel() {
    PsrefOptions o = PsrefOptions.of(MachineConfig.of(1));
    assertEquals(new PsrefOptions(false, false, false, false), o);
    PsrefOptions all = PsrefOptions.of(MachineConfig.of(1)
        .withOption(PsrefOptions.OPTION_HIGHPRI_DRAIN, true)
        .withOption(PsrefOptions.OPTION_DEBUG, true)
        .withOption(PsrefOptions.OPTION_LWP_COUNT, true)
        .withOption(PsrefOptions.OPTION_FRAME_DETECTOR, true));
    assertEquals(new PsrefOptions(true, true, true, true), all);
  }

  // ---- DEBUG ---------------------------------------------------------------------------------

  @Test
  void debugChecksAcceptCorrectUse() {
    try (Machine m = boot(2, PsrefOptions.OPTION_DEBUG, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      String r = callBound(m, m.cpu(1), () -> {
        Psref a = new Psref();
        Psref b = new Psref();
        Psref c = new Psref();
        Psrefs.acquire(a, t, cls);
        Psrefs.acquire(b, t, cls);       // two references to one target: fine
        Psrefs.copy(c, b, cls);
        Psrefs.release(b, t, cls);
        Psrefs.release(a, t, cls);
        boolean h = Psrefs.held(t, cls);
        Psrefs.release(c, t, cls);
        Psrefs.acquire(a, t, cls);       // reuse after release: fine
        Psrefs.release(a, t, cls);
        return h + " " + Psrefs.held(t, cls);
      });
      assertEquals("true false", r);
      m.run("destroy", () -> Psrefs.targetDestroy(t, cls));
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("The psref is already in the list (acquiring twice?): psref=%p target=%p")
  void thePsrefIsAlreadyInTheList_acquiringTwice() {
    try (Machine m = boot(1, PsrefOptions.OPTION_DEBUG, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Psref ref = new Psref();
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("twice", () -> {
        Kern.curlwpBind();
        Psrefs.acquire(ref, t, cls);
        Psrefs.acquire(ref, t, cls);
      }));
      assertEquals("The psref is already in the list (acquiring twice?): psref=" + p(ref)
          + " target=" + p(t), e.panic().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("The psref isn't in the list (releasing unused psref?): psref=%p target=%p")
  void thePsrefIsntInTheList_releasingUnusedPsref() {
    try (Machine m = boot(1, PsrefOptions.OPTION_DEBUG, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Psref ref = new Psref();
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("twice", () -> {
        Kern.curlwpBind();
        Psrefs.acquire(ref, t, cls);
        Psrefs.release(ref, t, cls);
        Psrefs.release(ref, t, cls);     // target, LWP and CPU still match: only DEBUG sees it
      }));
      assertEquals("The psref isn't in the list (releasing unused psref?): psref=" + p(ref)
          + " target=" + p(t), e.panic().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- l_psrefs ------------------------------------------------------------------------------

  private static String countWhileUsing(Machine m) {
    PsrefClass cls = newClass(m, "net");
    PsrefTarget t = newTarget(m, cls, "T");
    return callBound(m, m.cpu(0), () -> {
      Lwp l = Kern.curlwp();
      Psref a = new Psref();
      Psref b = new Psref();
      StringBuilder sb = new StringBuilder().append(l.psrefs());
      Psrefs.acquire(a, t, cls);
      sb.append(l.psrefs());
      Psrefs.copy(b, a, cls);
      sb.append(l.psrefs());
      Psrefs.release(a, t, cls);
      sb.append(l.psrefs());
      Psrefs.release(b, t, cls);
      return sb.append(l.psrefs()).toString();
    });
  }

  @Test
  void lwpCountFollowsAcquireCopyAndRelease() {
    try (Machine m = boot(1, PsrefOptions.OPTION_LWP_COUNT, true)) {
      assertEquals("01210", countWhileUsing(m));
      assertTrue(m.shutdown().isEmpty());
    }
    try (Machine m = boot(1)) {
      assertEquals("00000", countWhileUsing(m));
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("softint_execute: l_psrefs=%d, sh_func=%p")
  void softintExecuteLPsrefs_handlerReturnsHoldingAReference() throws InterruptedException {
    try (Machine m = boot(2, PsrefOptions.OPTION_LWP_COUNT, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Softint.Handle[] h = new Softint.Handle[1];
      h[0] = m.softint().establish(Softint.SOFTINT_NET,
          () -> Psrefs.acquire(new Psref(), t, cls), "leaky");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(h[0]), "kick");
      Panic pc = awaitPanic(m);
      // kern_softint.c's format ends in "\n", kept verbatim.
      assertEquals(kassert("l->l_psrefs == 0", "sys/kern/kern_softint.c", 593,
          "softint_execute: l_psrefs=1, sh_func=" + p(h[0]) + "\n"), pc.message());
      assertEquals("softnet/1", pc.lwp());
      assertEquals(1, pc.cpu());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("lwp_exit: l_psrefs=%d")
  void lwpExitLPsrefs_kthreadExitsHoldingAReference() throws InterruptedException {
    try (Machine m = boot(2, PsrefOptions.OPTION_LWP_COUNT, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        Psrefs.acquire(new Psref(), t, cls);
      }, "leaker");
      Panic pc = awaitPanic(m);
      assertEquals(kassert("l->l_psrefs == 0", "sys/kern/kern_lwp.c", 1094,
          "lwp_exit: l_psrefs=1"), pc.message());
      assertEquals("leaker", pc.lwp());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("lwp_exit: l_psrefs=%d (Machine.run)")
  void lwpExitLPsrefs_runReturnsHoldingTwo() {
    try (Machine m = boot(1, PsrefOptions.OPTION_LWP_COUNT, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("leaker", () -> {
        Kern.curlwpBind();
        Psref a = new Psref();
        Psrefs.acquire(a, t, cls);
        Psrefs.copy(new Psref(), a, cls);
      }));
      assertEquals(kassert("l->l_psrefs == 0", "sys/kern/kern_lwp.c", 1094,
          "lwp_exit: l_psrefs=2"), e.panic().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** Without the count a leak goes unnoticed until the class is destroyed (2016 behaviour). */
  @Test
  void withoutLwpCountALeakShowsOnlyAtClassDestroy() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("leaker", () -> {
        Kern.curlwpBind();
        Psrefs.acquire(new Psref(), t, cls);
      });
      assertTrue(m.panic().isEmpty());
      KernelPanic e = assertThrows(KernelPanic.class,
          () -> m.run("class_destroy", () -> Psrefs.classDestroy(cls)));
      assertTrue(e.panic().message().startsWith(
          "kernel diagnostic assertion \"psref_class_drained_p(class)\" failed"));
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
