package org.mpsafe.psref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.boot;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;
import static org.mpsafe.psref.Fixtures.p;

import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Machine;

/**
 * {@code psref_class_destroy}: a drained class is freed, and every later use of it panics
 * naming the operation and the class (the port's poisoning stands for kmem_free'd memory).
 * Runs with DIAGNOSTIC on and off: the poison is not a KASSERT.
 */
class PsrefClassDestroyTest {
  private static String usedAfterDestroy(String op, PsrefClass cls) {
    return op + ": psref class " + p(cls) + " (" + cls.name() + ") used after "
        + "psref_class_destroy";
  }

  /** Runs {@code body} as an LWP and returns the message of the panic it must cause. */
  private static String panicOf(Machine m, Runnable body) {
    KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("victim", body));
    assertSame(e.panic(), m.panic().orElseThrow());
    return e.panic().message();
  }

  /** A class whose references were all released, and its one target, destroyed in order. */
  @Test
  void drainedClassIsDestroyedAndMarked() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("use", () -> {
        int bound = Kern.curlwpBind();
        Psref ref = new Psref();
        Psrefs.acquire(ref, t, cls);
        Psrefs.release(ref, t, cls);
        Kern.curlwpBindx(bound);
        Psrefs.targetDestroy(t, cls);
      });
      assertFalse(cls.destroyed());
      m.run("class_destroy", () -> Psrefs.classDestroy(cls));
      assertTrue(cls.destroyed());
      assertTrue(m.panic().isEmpty());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void targetInitAfterClassDestroyPanics() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      m.run("class_destroy", () -> Psrefs.classDestroy(cls));
      String msg = panicOf(m, () -> Psrefs.targetInit(new PsrefTarget("T"), cls));
      assertEquals(usedAfterDestroy("psref_target_init", cls), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** A target initialised while the class lived, acquired after it was freed. */
  @Test
  void acquireAfterClassDestroyPanics() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("class_destroy", () -> Psrefs.classDestroy(cls));
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.acquire(new Psref(), t, cls);
      });
      assertEquals(usedAfterDestroy("psref_acquire", cls), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void targetDestroyAfterClassDestroyPanics() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("class_destroy", () -> Psrefs.classDestroy(cls));
      String msg = panicOf(m, () -> Psrefs.targetDestroy(t, cls));
      assertEquals(usedAfterDestroy("psref_target_destroy", cls), msg);
      assertFalse(t.draining(), "the target was touched after the class was freed");
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void heldAfterClassDestroyPanics() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      m.run("class_destroy", () -> Psrefs.classDestroy(cls));
      String msg = panicOf(m, () -> {
        Kern.curlwpBind();
        Psrefs.held(t, cls);
      });
      assertEquals(usedAfterDestroy("_psref_held", cls), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void classDestroyedTwicePanics() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      m.run("class_destroy", () -> Psrefs.classDestroy(cls));
      String msg = panicOf(m, () -> Psrefs.classDestroy(cls));
      assertEquals(usedAfterDestroy("psref_class_destroy", cls), msg);
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
