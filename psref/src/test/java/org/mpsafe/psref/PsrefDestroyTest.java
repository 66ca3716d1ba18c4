package org.mpsafe.psref;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.psref.Fixtures.until;
import static org.mpsafe.psref.Fixtures.newClass;
import static org.mpsafe.psref.Fixtures.newTarget;
import static org.mpsafe.psref.Fixtures.spinUntil;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;
import org.mpsafe.psref.Fixtures.Holder;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;

/**
 * psref_target_destroy: one contract, three machines. With a single destroyer there is no second
 * low-priority xcall user, so even the legacy accounting of PR kern/51632 must behave: a
 * reference held anywhere keeps the destroyer waiting (invariant P3), and with no holders one
 * xcall round suffices. The NetBSD 8 variant drains with XC_HIGHPRI_IPL(class ipl).
 *
 * <p>"The destroyer waits" is observed, never timed: the destroyer has posted at least two
 * rounds (so the first one saw the reference) and sleeps on the class's wait channel, or it
 * sleeps in xc_wait because the holder keeps the CPU; and it has not returned.
 */
class PsrefDestroyTest {

  /** The contract every variant passes. */
  abstract static class Contract {
    /** Boots the variant's machine. */
    abstract Machine boot(int ncpu);

    /** xcall rounds of the kind psreffed_p uses in this variant. */
    abstract long rounds(Xcall xc);

    /** xcall rounds of the other kind: psreffed_p must not use it. */
    abstract long otherRounds(Xcall xc);

    /** The wait channel of xc_wait for this variant's rounds. */
    abstract String xcWchan();

    static Xcall xcall(Machine m) {
      return m.call("xc_init", () -> Xcall.of(m));
    }

    /** An unbound kthread that destroys {@code t} and records whether a holder still held. */
    static final class Destroyer {
      final AtomicBoolean done = new AtomicBoolean();
      final AtomicBoolean heldWhenDone = new AtomicBoolean();
      final Lwp lwp;

      Destroyer(Machine m, Cpu cpu, PsrefTarget t, PsrefClass cls, AtomicBoolean... holds) {
        this(m, cpu, () -> Psrefs.targetDestroy(t, cls), holds);
      }

      Destroyer(Machine m, Cpu cpu, Runnable destroy, AtomicBoolean... holds) {
        lwp = m.kthreadCreate(Pri.PRI_KTHREAD, 0, cpu, () -> {
          destroy.run();
          for (AtomicBoolean h : holds) {
            if (h.get()) {
              heldWhenDone.set(true);
            }
          }
          done.set(true);
        }, "destroyer");
      }

      void awaitDone(Machine m) {
        until(m, () -> done.get() || !m.running());
        assertTrue(m.panic().isEmpty(), () -> m.panic().get().message());
        assertTrue(done.get());
        assertFalse(heldWhenDone.get(), "psref_target_destroy returned while a reference "
            + "was held");
      }
    }

    /**
     * Waits until {@code d} provably waits for a reference: a round posted after {@code since}
     * answered "held" and it sleeps on the class's channel between rounds.
     */
    void awaitWaitingForHolder(Xcall xc, long since, Destroyer d, PsrefClass cls) {
      until(d.lwp.machine(), () -> rounds(xc) >= since + 2 && cls.name().equals(d.lwp.wchan()));
      assertFalse(d.done.get(), "destroy returned while a reference was held");
    }

    @Test
    void destroyWithNoHoldersTakesOneXcallRound() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        long[] delta = m.call("destroyer", () -> {
          Xcall xc = Xcall.of(m);
          long r0 = rounds(xc);
          long o0 = otherRounds(xc);
          Psrefs.targetDestroy(t, cls);
          return new long[] {rounds(xc) - r0, otherRounds(xc) - o0};
        });
        assertArrayEquals(new long[] {1, 0}, delta);
        assertNull(t.prtClass());
        assertTrue(t.draining());
        assertEquals(1, cls.destroys());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    @Test
    void destroyAllWithNoHoldersTakesOneXcallRound() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        List<PsrefTarget> ts = List.of(newTarget(m, cls, "A"), newTarget(m, cls, "B"),
            newTarget(m, cls, "C"));
        long[] delta = m.call("destroyer", () -> {
          Xcall xc = Xcall.of(m);
          long r0 = rounds(xc);
          long o0 = otherRounds(xc);
          Psrefs.targetDestroyAll(ts, cls);
          return new long[] {rounds(xc) - r0, otherRounds(xc) - o0};
        });
        assertArrayEquals(new long[] {1, 0}, delta);
        for (PsrefTarget t : ts) {
          assertNull(t.prtClass(), t::toString);
          assertTrue(t.draining());
        }
        assertEquals(3, cls.destroys());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    /** The unheld targets are destroyed in the first round; the held one waits for its holder. */
    @Test
    void destroyAllWaitsOnlyForTheHeldTarget() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget a = newTarget(m, cls, "A");
        PsrefTarget b = newTarget(m, cls, "B");
        PsrefTarget c = newTarget(m, cls, "C");
        Xcall xc = xcall(m);
        Holder h = Holder.start(m, m.cpu(1), b, cls);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, m.cpu(0),
            () -> Psrefs.targetDestroyAll(List.of(a, b, c), cls), h.holds);
        awaitWaitingForHolder(xc, r0, d, cls);
        assertNull(a.prtClass());
        assertSame(cls, b.prtClass());
        assertNull(c.prtClass());
        assertEquals(2, cls.destroys());
        h.letGo(m);
        d.awaitDone(m);
        until(m, h.released::get);
        assertNull(b.prtClass());
        assertEquals(3, cls.destroys());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    @Test
    void destroyWaitsForReferenceHeldByBoundKthreadOnAnotherCpu() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        long o0 = otherRounds(xc);
        Holder h = Holder.start(m, m.cpu(1), t, cls);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, m.cpu(0), t, cls, h.holds);
        awaitWaitingForHolder(xc, r0, d, cls);
        assertTrue(t.draining());
        assertSame(cls, t.prtClass());
        h.letGo(m);
        d.awaitDone(m);
        until(m, h.released::get);
        assertNull(t.prtClass());
        assertEquals(o0, otherRounds(xc));
        assertTrue(m.shutdown().isEmpty());
      }
    }

    /** A uniprocessor: the only CPU answers for itself, between the holder's sleeps. */
    @Test
    void destroyOnOneCpuMachineWaitsForTheSleepingHolder() {
      try (Machine m = boot(1)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        Holder h = Holder.start(m, m.cpu(0), t, cls);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, null, t, cls, h.holds);
        awaitWaitingForHolder(xc, r0, d, cls);
        h.letGo(m);
        d.awaitDone(m);
        assertNull(t.prtClass());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    /** The destroyer may run on the holder's CPU: it sleeps, and the CPU answers "held". */
    @Test
    void destroyerBoundToTheHoldersCpuWaitsToo() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        Holder h = Holder.start(m, m.cpu(1), t, cls);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, m.cpu(1), t, cls, h.holds);
        awaitWaitingForHolder(xc, r0, d, cls);
        h.letGo(m);
        d.awaitDone(m);
        assertNull(t.prtClass());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    @Test
    void destroyWaitsForCopiedReference() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        Holder h = Holder.startWithCopy(m, m.cpu(1), t, cls);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, null, t, cls, h.holds);
        awaitWaitingForHolder(xc, r0, d, cls);
        h.letGo(m);
        d.awaitDone(m);
        assertNull(t.prtClass());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    /** Until every one of three CPUs has released, the destroyer keeps waiting. */
    @Test
    void destroyWaitsUntilTheLastOfSeveralCpusReleases() {
      try (Machine m = boot(4)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        Holder h1 = Holder.start(m, m.cpu(1), t, cls);
        Holder h2 = Holder.start(m, m.cpu(2), t, cls);
        Holder h3 = Holder.start(m, m.cpu(3), t, cls);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, m.cpu(0), t, cls, h1.holds, h2.holds, h3.holds);
        awaitWaitingForHolder(xc, r0, d, cls);
        h1.letGo(m);
        until(m, h1.released::get);
        awaitWaitingForHolder(xc, rounds(xc), d, cls);
        h3.letGo(m);
        until(m, h3.released::get);
        awaitWaitingForHolder(xc, rounds(xc), d, cls);
        h2.letGo(m);
        d.awaitDone(m);
        assertNull(t.prtClass());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    /**
     * A softint handler holding a reference keeps its CPU (softints do not sleep): the round
     * cannot finish there, and the destroyer sleeps in xc_wait until the handler releases.
     */
    @Test
    void destroyWaitsForReferenceHeldInSoftintOnAnotherCpu() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        AtomicBoolean holds = new AtomicBoolean();
        AtomicBoolean letGo = new AtomicBoolean();
        AtomicBoolean released = new AtomicBoolean();
        Softint.Handle sih = m.softint().establish(Softint.SOFTINT_NET, () -> {
          Psref ref = new Psref();
          Psrefs.acquire(ref, t, cls);
          holds.set(true);
          spinUntil(letGo);
          holds.set(false);
          Psrefs.release(ref, t, cls);
          released.set(true);
        }, "holder");
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(sih), "kick");
        until(m, holds::get);
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, null, t, cls, holds);
        awaitStuckInXcWait(xc, r0, d);
        letGo.set(true);
        d.awaitDone(m);
        until(m, released::get);   // set after release's preemption point
        assertNull(t.prtClass());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    /** Same with an unbound LWP that holds a reference with kernel preemption disabled. */
    @Test
    void destroyWaitsForReferenceHeldInKpreemptDisabledSection() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        Xcall xc = xcall(m);
        AtomicBoolean holds = new AtomicBoolean();
        AtomicBoolean letGo = new AtomicBoolean();
        AtomicBoolean released = new AtomicBoolean();
        Lwp holder = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          Psref ref = new Psref();
          Kern.kpreemptDisable();
          Psrefs.acquire(ref, t, cls);
          holds.set(true);
          spinUntil(letGo);
          holds.set(false);
          Psrefs.release(ref, t, cls);
          Kern.kpreemptEnable();
          released.set(true);
        }, "nopreempt-holder");
        until(m, holds::get);
        assertFalse(holder.isBound());
        long r0 = rounds(xc);
        Destroyer d = new Destroyer(m, null, t, cls, holds);
        awaitStuckInXcWait(xc, r0, d);
        letGo.set(true);
        d.awaitDone(m);
        until(m, released::get);   // set after release's preemption point
        assertNull(t.prtClass());
        assertTrue(m.shutdown().isEmpty());
      }
    }

    private void awaitStuckInXcWait(Xcall xc, long r0, Destroyer d) {
      until(d.lwp.machine(), () -> rounds(xc) == r0 + 1 && d.lwp.state() == Lwp.State.SLEEP
          && xcWchan().equals(d.lwp.wchan()));
      assertFalse(d.done.get(), "destroy returned while a reference was held");
    }

    /** Other targets of the class are unaffected by one being destroyed. */
    @Test
    void destroyLeavesOtherTargetsOfTheClassUsable() {
      try (Machine m = boot(2)) {
        PsrefClass cls = newClass(m, "net");
        PsrefTarget t = newTarget(m, cls, "T");
        PsrefTarget u = newTarget(m, cls, "U");
        m.run("destroy T", () -> Psrefs.targetDestroy(t, cls));
        String r = Fixtures.callBound(m, m.cpu(1), () -> {
          Psref ref = new Psref();
          Psrefs.acquire(ref, u, cls);
          boolean h = Psrefs.held(u, cls);
          Psrefs.release(ref, u, cls);
          return h + " " + u.draining();
        });
        assertEquals("true false", r);
        assertSame(cls, u.prtClass());
        m.run("destroy U", () -> Psrefs.targetDestroy(u, cls));
        assertEquals(2, cls.destroys());
        m.run("class_destroy", () -> Psrefs.classDestroy(cls));
        assertTrue(m.shutdown().isEmpty());
      }
    }
  }

  @Nested
  class LegacyTailp extends Contract {
    @Override
    Machine boot(int ncpu) {
      return Fixtures.boot(ncpu, Xcall.OPTION_ACCOUNTING, XcallAccounting.LEGACY_TAILP);
    }

    @Override
    long rounds(Xcall xc) {
      assertEquals(XcallAccounting.LEGACY_TAILP, xc.accounting());
      return xc.lowpriCount();
    }

    @Override
    long otherRounds(Xcall xc) {
      return xc.highpriCount();
    }

    @Override
    String xcWchan() {
      return "xclocv";
    }
  }

  @Nested
  class FixedDonep extends Contract {
    @Override
    Machine boot(int ncpu) {
      return Fixtures.boot(ncpu, Xcall.OPTION_ACCOUNTING, XcallAccounting.FIXED_DONEP);
    }

    @Override
    long rounds(Xcall xc) {
      assertEquals(XcallAccounting.FIXED_DONEP, xc.accounting());
      return xc.lowpriCount();
    }

    @Override
    long otherRounds(Xcall xc) {
      return xc.highpriCount();
    }

    @Override
    String xcWchan() {
      return "xclocv";
    }
  }

  /** NetBSD 8: psreffed_p broadcasts with XC_HIGHPRI_IPL(class ipl) (legacy accounting kept). */
  @Nested
  class HighpriDrain extends Contract {
    @Override
    Machine boot(int ncpu) {
      return Fixtures.boot(ncpu, PsrefOptions.OPTION_HIGHPRI_DRAIN, true,
          Xcall.OPTION_ACCOUNTING, XcallAccounting.LEGACY_TAILP);
    }

    @Override
    long rounds(Xcall xc) {
      return xc.highpriCount();
    }

    @Override
    long otherRounds(Xcall xc) {
      return xc.lowpriCount();
    }

    @Override
    String xcWchan() {
      return "xchicv";
    }
  }

  @Test
  void highpriDrainClassCarriesXcHighpriIplFlags() {
    try (Machine m = Fixtures.boot(1, PsrefOptions.OPTION_HIGHPRI_DRAIN, true)) {
      PsrefClass cls = newClass(m, "net");
      assertEquals(Xcall.XC_HIGHPRI_IPL(cls.ipl()), cls.prcXcFlags);
      assertNotEquals(0, cls.prcXcFlags & Xcall.XC_HIGHPRI);
      assertTrue(m.shutdown().isEmpty());
    }
    try (Machine m = Fixtures.boot(1)) {
      assertEquals(0, newClass(m, "net").prcXcFlags);
      assertTrue(m.shutdown().isEmpty());
    }
  }

  /**
   * Two destroys in parallel (the PR's trigger), one target held on CPU 1: the other destroy
   * completes, the held one waits until the release. With the fixed accounting, and with NetBSD
   * 8's high-priority drain, which never touches the low-priority xcall and so is safe even on
   * the legacy accounting.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"FIXED_DONEP", "LEGACY_TAILP+HIGHPRI_DRAIN"})
  void parallelDestroysWaitOnlyForTheHeldTarget(String variant) {
    boolean highpri = variant.endsWith("HIGHPRI_DRAIN");
    XcallAccounting acc = highpri ? XcallAccounting.LEGACY_TAILP : XcallAccounting.FIXED_DONEP;
    try (Machine m = Fixtures.boot(2, Xcall.OPTION_ACCOUNTING, acc,
        PsrefOptions.OPTION_HIGHPRI_DRAIN, highpri, Xcall.OPTION_DETECTOR, true)) {
      PsrefClass cls = newClass(m, "net");
      PsrefTarget t1 = newTarget(m, cls, "T1");
      PsrefTarget t2 = newTarget(m, cls, "T2");
      Xcall xc = Contract.xcall(m);
      Holder h = Holder.start(m, m.cpu(1), t1, cls);
      Contract.Destroyer d1 = new Contract.Destroyer(m, null, t1, cls, h.holds);
      Contract.Destroyer d2 = new Contract.Destroyer(m, null, t2, cls);
      d2.awaitDone(m);
      long since = highpri ? xc.highpriCount() : xc.lowpriCount();
      until(m, () -> (highpri ? xc.highpriCount() : xc.lowpriCount()) >= since + 2
          && cls.name().equals(d1.lwp.wchan()));
      assertFalse(d1.done.get(), "T1's destroy returned while CPU 1 held a reference");
      assertNull(t2.prtClass());
      assertSame(cls, t1.prtClass());
      h.letGo(m);
      d1.awaitDone(m);
      assertNull(t1.prtClass());
      assertEquals(0, xc.earlyReturns());
      if (highpri) {
        assertEquals(0, xc.lowpriCount());
      }
      assertTrue(m.shutdown().isEmpty());
    }
  }
}
