package org.mpsafe.psref;

import org.mpsafe.kern.KGate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.until;
import static org.mpsafe.psref.Fixtures.boot;
import static org.mpsafe.psref.Fixtures.callBound;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;

/**
 * psref_acquire / release / copy / held in the three contexts where a reference is CPU-local
 * (a bound LWP, a softint, a kpreempt_disable section), on one CPU and on many. Destroy is in
 * {@link PsrefDestroyTest}, the assertions in {@link PsrefAssertionTest}.
 */
class PsrefTest {

  @Test
  void targetInitMakesALiveTargetOfTheClass() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      assertSame(cls, t.prtClass());
      assertFalse(t.draining());
      assertEquals("net", cls.name());
      assertEquals(Ipl.IPL_SOFTNET, cls.ipl());
      assertEquals("T", t.owner());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void acquireHeldReleaseInBoundKthread() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      String r = callBound(m, m.cpu(1), () -> {
        Psref ref = new Psref();
        boolean before = Psrefs.held(t, cls);
        Psrefs.acquire(ref, t, cls);
        boolean during = Psrefs.held(t, cls);
        PsrefTarget got = ref.target();
        Psrefs.release(ref, t, cls);
        boolean after = Psrefs.held(t, cls);
        return before + " " + during + " " + (got == t) + " " + after + " "
            + Kern.curcpuIndex();
      });
      assertEquals("false true true false 1", r);
      assertTrue(m.panic().isEmpty());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void acquireHeldReleaseInKpreemptDisabledSectionOfUnboundLwp() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      String r = m.call("unbound", () -> {
        Psref ref = new Psref();
        Kern.kpreemptDisable();
        Psrefs.acquire(ref, t, cls);
        boolean during = Psrefs.held(t, cls);
        Psrefs.release(ref, t, cls);
        boolean after = Psrefs.held(t, cls);
        Kern.kpreemptEnable();
        return during + " " + after + " " + Kern.curlwp().isBound();
      });
      assertEquals("true false false", r);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void acquireHeldReleaseBetweenCurlwpBindAndBindx() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      String r = m.call("unbound", () -> {
        Psref ref = new Psref();
        int bound = Kern.curlwpBind();
        boolean boundNow = Kern.curlwp().isBound();
        Psrefs.acquire(ref, t, cls);
        // A bound LWP may sleep holding a reference, and comes back on its CPU.
        int cpu = Kern.curcpuIndex();
        Kern.kpause("hold", 1);
        boolean sameCpu = cpu == Kern.curcpuIndex();
        boolean during = Psrefs.held(t, cls);
        Psrefs.release(ref, t, cls);
        Kern.curlwpBindx(bound);
        return bound + " " + boundNow + " " + sameCpu + " " + during + " "
            + Kern.curlwp().isBound();
      });
      assertEquals("0 true true true false", r);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void acquireHeldCopyReleaseInSoftintOnEveryCpu() {
    try (Machine m = boot(4)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      // Per CPU: 1 once the handler ran there and every check held.
      AtomicIntegerArray ok = new AtomicIntegerArray(4);
      AtomicInteger bad = new AtomicInteger();
      Softint.Handle h = m.softint().establish(Softint.SOFTINT_NET, () -> {
        Psref a = new Psref();
        Psref b = new Psref();
        boolean good = Kern.cpuSoftintrP() && !Psrefs.held(t, cls);
        Psrefs.acquire(a, t, cls);
        good &= Psrefs.held(t, cls);
        Psrefs.copy(b, a, cls);
        good &= b.target() == t;
        Psrefs.release(a, t, cls);
        good &= Psrefs.held(t, cls); // the copy still holds it
        Psrefs.release(b, t, cls);
        good &= !Psrefs.held(t, cls);
        if (good) {
          ok.set(Kern.curcpuIndex(), 1);
        } else {
          bad.incrementAndGet();
        }
      }, "psreftest");
      for (int i = 0; i < 4; i++) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(i), () -> m.softint().schedule(h), "sched/" + i);
      }
      until(m, () -> ok.get(0) + ok.get(1) + ok.get(2) + ok.get(3) == 4
          || bad.get() > 0 || !m.running());
      assertEquals(0, bad.get());
      assertTrue(m.panic().isEmpty(), () -> m.panic().get().message());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /**
   * Every CPU holds one shared target and one of its own at the same time: psref_held answers
   * for the current CPU only.
   */
  @Test
  void boundKthreadsOnFourCpusHoldAtOnceAndHeldIsCpuLocal() {
    try (Machine m = boot(4)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget shared = newTarget(m, cls, "shared");
      List<PsrefTarget> own = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        own.add(newTarget(m, cls, "own" + i));
      }
      KGate allHold = new KGate();
      AtomicInteger holding = new AtomicInteger();
      String[] seen = new String[4];
      AtomicInteger done = new AtomicInteger();
      List<Lwp> lwps = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        final int me = i;
        lwps.add(m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(i), () -> {
          Psref rs = new Psref();
          Psref ro = new Psref();
          Psrefs.acquire(rs, shared, cls);
          Psrefs.acquire(ro, own.get(me), cls);
          holding.incrementAndGet();
          allHold.pass();
          StringBuilder sb = new StringBuilder().append(Psrefs.held(shared, cls) ? 'S' : '-');
          for (PsrefTarget o : own) {
            sb.append(Psrefs.held(o, cls) ? 'H' : '.');
          }
          seen[me] = sb.toString();
          Psrefs.release(rs, shared, cls);
          Psrefs.release(ro, own.get(me), cls);
          done.incrementAndGet();
        }, "holder/" + i));
      }
      until(m, () -> holding.get() == 4 && lwps.stream()
          .allMatch(l -> l.state() == Lwp.State.SLEEP));
      m.run("open", allHold::open);
      until(m, () -> done.get() == 4 || !m.running());
      assertTrue(m.panic().isEmpty(), () -> m.panic().get().message());
      assertEquals("SH...", seen[0]);
      assertEquals("S.H..", seen[1]);
      assertEquals("S..H.", seen[2]);
      assertEquals("S...H", seen[3]);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** The per-CPU list takes removals in any order, and several references to one target. */
  @Test
  void releaseInAnyOrderKeepsTheOthersHeld() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t1 = newTarget(m, cls, "T1");
      PsrefTarget t2 = newTarget(m, cls, "T2");
      PsrefTarget t3 = newTarget(m, cls, "T3");
      String r = callBound(m, m.cpu(0), () -> {
        Psref a = new Psref();
        Psref b = new Psref();
        Psref c = new Psref();
        Psref d = new Psref();
        StringBuilder sb = new StringBuilder();
        Psrefs.acquire(a, t1, cls);
        Psrefs.acquire(b, t2, cls);
        Psrefs.acquire(c, t3, cls);
        Psrefs.acquire(d, t2, cls);
        Psrefs.release(b, t2, cls);      // middle of the list
        sb.append(held(cls, t1, t2, t3)).append(' ');
        Psrefs.release(d, t2, cls);      // head
        sb.append(held(cls, t1, t2, t3)).append(' ');
        Psrefs.release(a, t1, cls);      // tail
        sb.append(held(cls, t1, t2, t3)).append(' ');
        Psrefs.release(c, t3, cls);      // last
        sb.append(held(cls, t1, t2, t3));
        return sb.toString();
      });
      assertEquals("111 101 001 000", r);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  private static String held(PsrefClass cls, PsrefTarget... ts) {
    StringBuilder sb = new StringBuilder();
    for (PsrefTarget t : ts) {
      sb.append(Psrefs.held(t, cls) ? '1' : '0');
    }
    return sb.toString();
  }

  /** The caller owns the psref storage and may reuse it for another target after release. */
  @Test
  void psrefIsReusableAfterRelease() {
    try (Machine m = boot(1)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t1 = newTarget(m, cls, "T1");
      PsrefTarget t2 = newTarget(m, cls, "T2");
      String r = callBound(m, m.cpu(0), () -> {
        Psref ref = new Psref();
        Psrefs.acquire(ref, t1, cls);
        Psrefs.release(ref, t1, cls);
        Psrefs.acquire(ref, t2, cls);
        String s = held(cls, t1, t2) + (ref.target() == t2 ? " t2" : " ?");
        Psrefs.release(ref, t2, cls);
        return s + " " + held(cls, t1, t2);
      });
      assertEquals("01 t2 00", r);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** Classes at different IPLs keep separate lists: one's references are not the other's. */
  @Test
  void classesKeepSeparateLists() {
    try (Machine m = boot(1)) {
      PsrefClass net = newClass(m, "net");
      PsrefClass clk = m.call("mk", () -> Psrefs.classCreate("clk", Ipl.IPL_SOFTCLOCK));
      PsrefTarget tn = newTarget(m, net, "TN");
      PsrefTarget tc = newTarget(m, clk, "TC");
      String r = callBound(m, m.cpu(0), () -> {
        Psref a = new Psref();
        Psrefs.acquire(a, tn, net);
        String s = Psrefs.held(tn, net) + " " + Psrefs.held(tc, clk);
        Psrefs.release(a, tn, net);
        return s;
      });
      assertEquals("true false", r);
      m.run("destroy classes", () -> {
        Psrefs.classDestroy(net);
        Psrefs.classDestroy(clk);
      });
      assertTrue(m.shutdown().isEmpty());
    }
  }

  @Test
  void classCreateTakesOneToEightCharacterNames() {
    try (Machine m = boot(1)) {
      assertEquals("eightchr", newClass(m, "eightchr").name());
      assertThrows(IllegalArgumentException.class, () -> newClass(m, "ninechars"));
      assertThrows(IllegalArgumentException.class, () -> newClass(m, ""));
      assertThrows(IllegalArgumentException.class,
          () -> m.call("mk", () -> Psrefs.classCreate("badipl", 42)));
      assertTrue(m.panic().isEmpty());
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /** Acquire and release never sleep, so a pserialize read section may contain them. */
  @Test
  void acquireInsidePserializeReadSectionThenUseAfterIt() {
    try (Machine m = boot(2)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t = newTarget(m, cls, "T");
      AtomicBoolean slept = new AtomicBoolean();
      String r = callBound(m, m.cpu(1), () -> {
        Psref ref = new Psref();
        int s = Pserialize.readEnter();
        Psrefs.acquire(ref, t, cls);
        Pserialize.readExit(s);
        Kern.kpause("use", 1); // bound: may sleep holding it
        slept.set(true);
        boolean h = Psrefs.held(t, cls);
        Psrefs.release(ref, t, cls);
        return h + " " + Pserialize.inReadSection();
      });
      assertEquals("true false", r);
      assertTrue(slept.get());
      assertNull(m.panic().orElse(null));
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
