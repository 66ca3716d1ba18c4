package org.mpsafe.psref;

import org.mpsafe.kern.KGate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.CLASS_EXPR;
import static org.mpsafe.psref.Fixtures.CPU_LOCAL;
import static org.mpsafe.psref.Fixtures.CPU_LOCAL_EXPR;
import static org.mpsafe.psref.Fixtures.until;
import static org.mpsafe.psref.Fixtures.awaitPanic;
import static org.mpsafe.psref.Fixtures.boot;
import static org.mpsafe.psref.Fixtures.kassert;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;
import static org.mpsafe.psref.Fixtures.p;
import static org.mpsafe.psref.Fixtures.spinUntil;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Pri;
import org.mpsafe.psref.Fixtures.Holder;

/**
 * Death tests: one per KASSERT of subr_psref.c (rev. 1.4), each named after its message and
 * checking the whole NetBSD text: {@code kernel diagnostic assertion "EXPR" failed: file
 * "sys/kern/subr_psref.c", line N MESSAGE}, with {@code %p} as the kernel prints it ({@code 0x0}
 * for NULL). Line numbers are those of the PR reporter's tree (see Psrefs' notes).
 */
class PsrefAssertionTest {

  /** Runs {@code body} in the calling thread as an LWP and returns the panic it must cause. */
  private static String panicOf(Machine m, Runnable body) {
    KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("victim", body));
    assertSame(e.panic(), m.panic().orElseThrow());
    assertEquals(Machine.Outcome.PANIC, m.outcome());
    return e.panic().message();
  }

  /** The calling LWP's situation: unbound, preemption enabled, IPL_NONE, not a softint. */
  private static String context() {
    Lwp l = Kern.curlwp();
    return "bound=" + l.isBound() + " nopreempt=" + l.nopreempt() + " ipl=" + l.cpu().ipl()
        + " softint=" + Kern.cpuSoftintrP();
  }

  private static final String PLAIN = "bound=false nopreempt=0 ipl=0 softint=false";

  // ---- passive references are CPU-local, but preemption is enabled ... ----------------------

  @Test
  @DisplayName(CPU_LOCAL + " (acquire)")
  void passiveReferencesAreCpuLocalButPreemptionIsEnabled_acquire() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      AtomicReference<String> ctx = new AtomicReference<>();
      String msg = panicOf(m, () -> {
        ctx.set(context());
        Psrefs.acquire(new Psref(), t, cls);
      });
      assertEquals(PLAIN, ctx.get());
      assertEquals(kassert(CPU_LOCAL_EXPR, 222, CPU_LOCAL), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName(CPU_LOCAL + " (release)")
  void passiveReferencesAreCpuLocalButPreemptionIsEnabled_release() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Psref ref = new Psref();
      AtomicReference<String> ctx = new AtomicReference<>();
      String msg = panicOf(m, () -> {
        Kern.kpreemptDisable();
        Psrefs.acquire(ref, t, cls);   // legal here ...
        Kern.kpreemptEnable();         // ... but not any more
        ctx.set(context());
        Psrefs.release(ref, t, cls);
      });
      assertEquals(PLAIN, ctx.get());
      assertEquals(kassert(CPU_LOCAL_EXPR, 263, CPU_LOCAL), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName(CPU_LOCAL + " (held)")
  void passiveReferencesAreCpuLocalButPreemptionIsEnabled_held() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      AtomicReference<String> ctx = new AtomicReference<>();
      String msg = panicOf(m, () -> {
        ctx.set(context());
        Psrefs.held(t, cls);
      });
      assertEquals(PLAIN, ctx.get());
      assertEquals(kassert(CPU_LOCAL_EXPR, 480, CPU_LOCAL), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName(CPU_LOCAL + " (copy)")
  void passiveReferencesAreCpuLocalButPreemptionIsEnabled_copy() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      String msg = panicOf(m, () -> Psrefs.copy(new Psref(), new Psref(), cls));
      assertEquals(kassert(CPU_LOCAL_EXPR, 316, CPU_LOCAL), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- mismatched psref target class: %p (ref) != %p (expected) -----------------------------

  private static String mismatchedClass(Object ref, Object expected) {
    return "mismatched psref target class: " + p(ref) + " (ref) != " + p(expected)
        + " (expected)";
  }

  @Test
  @DisplayName("mismatched psref target class: %p (ref) != %p (expected) (acquire)")
  void mismatchedPsrefTargetClass_acquire() {
    try (Machine m = boot(1)) {
      PsrefClass a = newClass(m, "a");
      PsrefClass b = newClass(m, "b");
      PsrefTarget t = newTarget(m, a, "T");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.acquire(new Psref(), t, b);
      });
      assertEquals(kassert(CLASS_EXPR, 227, mismatchedClass(a, b)), msg);
      assertTrue(p(a).matches("0x[0-9a-f]+") && !p(a).equals("0x0"), p(a));
      assertNotEquals(p(a), p(b));
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("mismatched psref target class: 0x0 (ref) != %p (expected) (uninitialised target)")
  void mismatchedPsrefTargetClass_acquireOfUninitialisedTargetPrintsNullAs0x0() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = new PsrefTarget("never-initialised");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.acquire(new Psref(), t, cls);
      });
      assertEquals(kassert(CLASS_EXPR, 227,
          "mismatched psref target class: 0x0 (ref) != " + p(cls) + " (expected)"), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("mismatched psref target class: %p (ref) != 0x0 (expected) (NULL class)")
  void mismatchedPsrefTargetClass_acquireWithNullClassPrints0x0Expected() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      String msg = panicOf(m, () -> {
        Kern.kpreemptDisable();
        Psrefs.acquire(new Psref(), t, null);
      });
      assertEquals(kassert(CLASS_EXPR, 227,
          "mismatched psref target class: " + p(cls) + " (ref) != 0x0 (expected)"), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /**
   * psref_target_destroy ends with prt_class = NULL: "Cause subsequent psref_acquire to
   * kassert".
   */
  @Test
  @DisplayName("mismatched psref target class: 0x0 (ref) != %p (expected) (acquire after destroy)")
  void mismatchedPsrefTargetClass_acquireAfterDestroy() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("destroy", () -> Psrefs.targetDestroy(t, cls));
      assertEquals(null, t.prtClass());
      assertTrue(t.draining());
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.acquire(new Psref(), t, cls);
      });
      assertEquals(kassert(CLASS_EXPR, 227, mismatchedClass(null, cls)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("mismatched psref target class: %p (ref) != %p (expected) (release)")
  void mismatchedPsrefTargetClass_release() {
    try (Machine m = boot(1)) {
      PsrefClass a = newClass(m, "a");
      PsrefClass b = newClass(m, "b");
      PsrefTarget t = newTarget(m, a, "T");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psref ref = new Psref();
        Psrefs.acquire(ref, t, a);
        Psrefs.release(ref, t, b);
      });
      assertEquals(kassert(CLASS_EXPR, 268, mismatchedClass(a, b)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** psref_copy checks the class of the source's target (its own expression text in C). */
  @Test
  @DisplayName("mismatched psref target class: %p (ref) != %p (expected) (copy)")
  void mismatchedPsrefTargetClass_copy() {
    try (Machine m = boot(1)) {
      PsrefClass a = newClass(m, "a");
      PsrefClass b = newClass(m, "b");
      PsrefTarget t = newTarget(m, a, "T");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psref from = new Psref();
        Psrefs.acquire(from, t, a);
        Psrefs.copy(new Psref(), from, b);
      });
      assertEquals(kassert("(pfrom->psref_target->prt_class == class)", 332,
          mismatchedClass(a, b)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("mismatched psref target class: %p (ref) != %p (expected) (held)")
  void mismatchedPsrefTargetClass_held() {
    try (Machine m = boot(1)) {
      PsrefClass a = newClass(m, "a");
      PsrefClass b = newClass(m, "b");
      PsrefTarget t = newTarget(m, a, "T");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.held(t, b);
      });
      assertEquals(kassert(CLASS_EXPR, 485, mismatchedClass(a, b)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("mismatched psref target class: %p (ref) != %p (expected) (destroy)")
  void mismatchedPsrefTargetClass_destroy() {
    try (Machine m = boot(1)) {
      PsrefClass a = newClass(m, "a");
      PsrefClass b = newClass(m, "b");
      PsrefTarget t = newTarget(m, a, "T");
      String msg = panicOf(m, () -> Psrefs.targetDestroy(t, b));
      assertEquals(kassert(CLASS_EXPR, 412, mismatchedClass(a, b)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** A finished destroy left prt_class NULL, so a second one trips the class check first. */
  @Test
  @DisplayName("mismatched psref target class: 0x0 (ref) != %p (expected) (destroy after destroy)")
  void mismatchedPsrefTargetClass_destroyAfterDestroy() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("destroy", () -> Psrefs.targetDestroy(t, cls));
      String msg = panicOf(m, () -> Psrefs.targetDestroy(t, cls));
      assertEquals(kassert(CLASS_EXPR, 412, mismatchedClass(null, cls)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- psref target already destroyed: %p ----------------------------------------------------

  /** A destroyer waiting for a holder on CPU 1: the target is draining but still has its class. */
  private static Holder drainingBehindHolder(Machine m, PsrefTarget t, PsrefClass cls) {
    Holder h = Holder.start(m, m.cpu(1), t, cls);
    m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> Psrefs.targetDestroy(t, cls), "destroyer");
    until(m, () -> t.draining());
    assertSame(cls, t.prtClass());
    return h;
  }

  @Test
  @DisplayName("psref target already destroyed: %p (acquire)")
  void psrefTargetAlreadyDestroyed_acquireWhileDraining() throws InterruptedException {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      drainingBehindHolder(m, t, cls);
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.acquire(new Psref(), t, cls);
      });
      assertEquals(kassert("!target->prt_draining", 230,
          "psref target already destroyed: " + p(t)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** "Multiple concurrent calls to psref_target_destroy are not allowed" (psref(9)). */
  @Test
  @DisplayName("psref target already destroyed: %p (destroy twice)")
  void psrefTargetAlreadyDestroyed_destroyTwice() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      drainingBehindHolder(m, t, cls);
      String msg = panicOf(m, () -> Psrefs.targetDestroy(t, cls));
      assertEquals(kassert("!target->prt_draining", 417,
          "psref target already destroyed: " + p(t)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- passive reference target mismatch: %p (ref) != %p (expected) -------------------------

  @Test
  @DisplayName("passive reference target mismatch: %p (ref) != %p (expected)")
  void passiveReferenceTargetMismatch() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t1 = newTarget(m, cls, "T1");
      PsrefTarget t2 = newTarget(m, cls, "T2");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psref ref = new Psref();
        Psrefs.acquire(ref, t1, cls);
        Psrefs.release(ref, t2, cls);
      });
      assertEquals(kassert("(psref->psref_target == target)", 273,
          "passive reference target mismatch: " + p(t1) + " (ref) != " + p(t2)
              + " (expected)"), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("passive reference target mismatch: 0x0 (ref) != %p (expected) (never acquired)")
  void passiveReferenceTargetMismatch_releaseOfNeverAcquiredPsref() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.release(new Psref(), t, cls);
      });
      assertEquals(kassert("(psref->psref_target == target)", 273,
          "passive reference target mismatch: 0x0 (ref) != " + p(t) + " (expected)"), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- passive reference transferred from lwp %p to lwp %p ----------------------------------

  /**
   * Two kthreads bound to CPU 1 share one psref: the first holds it (asleep), the second runs
   * {@code misuse} with it on the same CPU. Returns the panic and the second LWP.
   */
  private static Object[] secondLwpOnSameCpu(Machine m, Holder h, Runnable misuse)
      throws InterruptedException {
    Lwp thief = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), misuse, "thief");
    Panic p = awaitPanic(m);
    assertEquals("thief", p.lwp());
    assertEquals(1, p.cpu());
    return new Object[] {p.message(), thief};
  }

  @Test
  @DisplayName("passive reference transferred from lwp %p to lwp %p (release)")
  void passiveReferenceTransferredFromLwp_release() throws InterruptedException {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Holder h = Holder.start(m, m.cpu(1), t, cls);
      Object[] r = secondLwpOnSameCpu(m, h, () -> Psrefs.release(h.ref, t, cls));
      assertEquals(kassert("(psref->psref_lwp == curlwp)", 276,
          "passive reference transferred from lwp " + p(h.lwp) + " to lwp " + p(r[1])),
          r[0]);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  @DisplayName("passive reference transferred from lwp %p to lwp %p (copy)")
  void passiveReferenceTransferredFromLwp_copy() throws InterruptedException {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Holder h = Holder.start(m, m.cpu(1), t, cls);
      Object[] r = secondLwpOnSameCpu(m, h, () -> Psrefs.copy(new Psref(), h.ref, cls));
      assertEquals(kassert("(psref->psref_lwp == curlwp)", 326,
          "passive reference transferred from lwp " + p(h.lwp) + " to lwp " + p(r[1])),
          r[0]);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /**
   * Revision 1.4's _psref_held checks the LWP of every entry it walks, not only the match: an
   * LWP asking psref_held while another LWP of the same CPU holds a reference of the class
   * trips it (1.10 checks only the matching entry). Kept as in the PR's kernel.
   */
  @Test
  @DisplayName("passive reference transferred from lwp %p to lwp %p (held, rev. 1.4)")
  void passiveReferenceTransferredFromLwp_heldWalksOtherLwpsEntries()
      throws InterruptedException {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      PsrefTarget u = newTarget(m, cls, "U");
      Holder h = Holder.start(m, m.cpu(1), t, cls);
      Object[] r = secondLwpOnSameCpu(m, h, () -> Psrefs.held(u, cls));
      assertEquals(kassert("(lwp_mismatch_ok || psref->psref_lwp == curlwp)", 496,
          "passive reference transferred from lwp " + p(h.lwp) + " to lwp " + p(r[1])),
          r[0]);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- passive reference transferred from CPU %u to CPU %u ----------------------------------

  /**
   * An unbound LWP binds, acquires on CPU c, wrongly unbinds and sleeps. A spinner bound to c
   * occupies c, so the LWP wakes on the other CPU; it binds again and releases there: the LWP
   * matches, the CPU does not.
   */
  @Test
  @DisplayName("passive reference transferred from CPU %u to CPU %u")
  void passiveReferenceTransferredFromCpu() throws InterruptedException {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      KGate gate = new KGate();
      AtomicInteger from = new AtomicInteger(-1);
      AtomicInteger to = new AtomicInteger(-1);
      Lwp mover = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Psref ref = new Psref();
        int bound = Kern.curlwpBind();
        Psrefs.acquire(ref, t, cls);
        from.set(Kern.curcpuIndex());
        Kern.curlwpBindx(bound);          // the bug: unbound while holding
        gate.pass();
        Kern.curlwpBind();
        to.set(Kern.curcpuIndex());
        Psrefs.release(ref, t, cls);
      }, "mover");
      until(m, () -> from.get() >= 0 && gate.occupied()
          && mover.state() == Lwp.State.SLEEP);
      int c0 = from.get();
      int c1 = 1 - c0;
      AtomicBoolean spinning = new AtomicBoolean();
      AtomicBoolean never = new AtomicBoolean();
      Lwp spinner = m.kthreadCreate(Pri.PRI_KNET, 0, m.cpu(c0), () -> {
        spinning.set(true);
        spinUntil(never);
      }, "spinner");
      until(m, () -> spinning.get() && spinner.state() == Lwp.State.ONPROC
          && m.cpu(c0).curlwp() == spinner);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, gate::open, "opener");
      Panic p = awaitPanic(m);
      assertEquals(c1, to.get());
      assertEquals(kassert("(psref->psref_cpu == curcpu())", 279,
          "passive reference transferred from CPU " + c0 + " to CPU " + c1), p.message());
      assertEquals("mover", p.lwp());
      assertEquals(c1, p.cpu());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- can't copy passive reference to itself: %p -------------------------------------------

  @Test
  @DisplayName("can't copy passive reference to itself: %p")
  void cantCopyPassiveReferenceToItself() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Psref ref = new Psref();
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.acquire(ref, t, cls);
        Psrefs.copy(ref, ref, cls);
      });
      assertEquals(kassert("(pto != pfrom)", 321,
          "can't copy passive reference to itself: " + p(ref)), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  // ---- KASSERT(psref_class_drained_p(class)) ------------------------------------------------

  @Test
  @DisplayName("kernel diagnostic assertion \"psref_class_drained_p(class)\" failed")
  void psrefClassDrainedP_classDestroyWithReferenceHeld() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      Holder.start(m, m.cpu(1), t, cls);
      String msg = panicOf(m, () -> Psrefs.classDestroy(cls));
      // KASSERT without a message: __KASSERTSTR's trailing space ends the text.
      assertEquals("kernel diagnostic assertion \"psref_class_drained_p(class)\" failed: "
          + "file \"sys/kern/subr_psref.c\", line 176 ", msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
