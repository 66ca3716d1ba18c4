package org.mpsafe.psref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.boot;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;

import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Machine;

/**
 * psref without {@code options DIAGNOSTIC}: run only by the {@code nodiagnostic} surefire
 * execution ({@code -Dmpsafe.nodiagnostic=true}, see psref/pom.xml), together with the
 * behaviour tests that must pass unchanged there (Pr51632Test, PsrefTest, PsrefDestroyTest,
 * PsrefClassDestroyTest). The KASSERTs are not evaluated, as in NetBSD; nothing else changes.
 */
class NoDiagnosticTest {
  @Test
  void diagnosticIsOffInThisExecution() {
    assertFalse(Kassert.DIAGNOSTIC, "run this class with -Dmpsafe.nodiagnostic=true");
  }

  /**
   * What NetBSD does without DIAGNOSTIC when a destroyed target is acquired: nothing checks
   * prt_draining or prt_class, the reference is linked and released like any other.
   */
  @Test
  void acquireOfADestroyedTargetIsNotChecked() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      boolean[] held = new boolean[2];
      m.run("user", () -> {
        Psrefs.targetDestroy(t, cls);
        int bound = Kern.curlwpBind();
        Psref ref = new Psref();
        Psrefs.acquire(ref, t, cls);
        held[0] = Psrefs.held(t, cls);
        Psrefs.release(ref, t, cls);
        held[1] = Psrefs.held(t, cls);
        Kern.curlwpBindx(bound);
      });
      assertTrue(held[0]);
      assertFalse(held[1]);
      assertTrue(m.panic().isEmpty(), () -> m.panic().get().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /**
   * The late callback's load through the dead frame's class word: C faults on the address 0x2;
   * the port panics with that fault (not a ClassCastException turned into "xcall function
   * threw").
   */
  @Test
  void psrefHeldThroughTheDeadFrameWordFaults() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("late-callback", () -> {
        Kern.curlwpBind();
        Psrefs.psrefHeld(t, Long.valueOf(Psrefs.DEAD_FRAME_WORD), true);
      }));
      assertSame(e.panic(), m.panic().orElseThrow());
      assertEquals("fatal page fault in supervisor mode: _psref_held loaded through class = "
          + "0x2, which is not a mapped kernel address", e.panic().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
