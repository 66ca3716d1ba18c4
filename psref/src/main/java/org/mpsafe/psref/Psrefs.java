package org.mpsafe.psref;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KStack;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Trace;
import org.mpsafe.xcall.XcFunc;
import org.mpsafe.xcall.Xcall;

/**
 * Passive references ({@code sys/kern/subr_psref.c}, 2016, rev. 1.4 as in PR kern/51632).
 *
 * <p>A passive reference keeps a target from being destroyed while it is held. Acquiring and
 * releasing one touch only the current CPU's list — no atomics, no allocation, no contention —
 * so they suit hot paths such as forwarding. Destroying a target is expensive: it asks every
 * CPU, by cross call, whether it still holds a reference, and waits until none does.
 *
 * <pre>{@code
 * int bound = Kern.curlwpBind();            // or be in a softint, or disable preemption
 * int s = Pserialize.readEnter();
 * Obj o = lookup(key);                       // published objects, read under pserialize
 * Psrefs.acquire(ref, o.target, cls);        // ref: a Psref the caller owns
 * Pserialize.readExit(s);
 * try { use(o); } finally { Psrefs.release(ref, o.target, cls); Kern.curlwpBindx(bound); }
 * }</pre>
 *
 * A reference is held by one LWP on one CPU: the caller must not switch CPUs between acquire
 * and release (bound LWP, softint, or preemption disabled — asserted). Destroy: unpublish the
 * object (so no new reference can be taken), then {@link #targetDestroy}, then free it.
 *
 * <pre>
 * Implementation notes
 *
 * C to Java: struct psref_target → PsrefTarget, struct psref → Psref (caller-owned),
 * struct psref_class → PsrefClass with one sentinel-headed doubly linked list per CPU
 * (LIST_HEAD/LIST_ENTRY: the sentinel plays le_prev's role, so release needs no head, as in
 * 1.4). struct psreffed P lives on the destroying LWP's KStack (see psreffedP).
 *
 * Invariants (cited by the tests):
 *  P1 A CPU's list is touched only by the LWP running on that CPU, at the class IPL, between
 *     percpu_getref/putref: plain fields suffice (kern's CPU handoff is the barrier).
 *  P2 prt_draining goes false → true once, before the first psreffed_p; from then on no new
 *     reference can be acquired (KASSERT), so "no CPU holds one" is stable once observed.
 *  P3 psref_target_destroy returns only after a psreffed_p round in which no CPU held a
 *     reference, then stores prt_class = NULL ("Cause subsequent psref_acquire to kassert").
 *  P4 psreffed_p's frame P is live from the broadcast until xc_wait returns; P3 relies on
 *     xcall's promise that xc_wait returns after every callback — the promise the legacy
 *     accounting breaks (PR kern/51632).
 *
 * The dead frame. In C, P is on psreffed_p's stack and dies when it returns; the next call the
 * destroyer makes overwrites it. Here P is a 3-word frame on the LWP's KStack: pop leaves the
 * words in place, and when psref_target_destroy returns to its caller the caller's next call
 * reuses the slot where P.class was (reuseDeadFrame). What it stores there, DEAD_FRAME_WORD =
 * 0x2, is chosen, not measured: it is the word the PR's panic shows, standing for whatever the
 * caller's next call leaves in that slot in C. A late callback therefore reads P.target = the
 * destroyed target (prt_class NULL) and P.class = 0x2, and _psref_held's class KASSERT prints
 * "mismatched psref target class: 0x0 (ref) != 0x2 (expected)", as NetBSD 7 did. A callback
 * late enough to read P but early enough to beat the reuse reads P.class = the class itself,
 * and the same KASSERT fails on prt_class NULL alone ("0x0 (ref) != 0xffffc... (expected)").
 *
 * Without DIAGNOSTIC (-Dmpsafe.nodiagnostic=true) the KASSERTs are not evaluated, as in a NetBSD
 * kernel built without options DIAGNOSTIC, and nothing else changes. _psref_held then goes on to
 * dereference the class it was given (class->prc_iplcookie, class->prc_percpu); in C a class
 * word of 0x2 is an unmapped address and the CPU takes a fatal page fault in supervisor mode
 * (amd64: "fatal page fault in supervisor mode", then panic "trap"). Java cannot fault on a
 * word, so classAt() stands for that load: a word that is not a psref_class panics with the
 * fault, naming the address. A destroyed class (psref_class_destroy, kmem_free in C) is
 * poisoned: every later use panics "used after psref_class_destroy" (see PsrefClass).
 *
 * Options (PsrefOptions): NetBSD ≥ 8 drains with XC_HIGHPRI_IPL(ipl); DEBUG checks for double
 * acquire / unknown release; l_psrefs counting. The use-after-return detector rides on the
 * xcall's arg2 (unused by psreffed_p_xc in C, NULL there): it changes no ordering.
 *
 * Not NetBSD's, for batch users: targetDestroyAll destroys several targets of one class with
 * one psreffed_p round for all that are still draining (P.target and P.ret hold arrays; the
 * dead frame and the detector apply as to psreffed_p). P2 and P3 hold per target: all are set
 * draining first, and each is destroyed after the first round in which no CPU held it.
 *
 * Hot path (acquire): curcpu() is read once and handed down, and percpu_putref + splx are one
 * step (PerCpu.putrefSplx) with one preemption check on the host-scheduled machine; the
 * deterministic machine keeps both points, so its schedules are those of the two calls.
 *
 * Line numbers in messages follow the reporter's tree of the PR (1.4 plus psref_target_wait),
 * where _psref_held's class assertion is line 485.
 * </pre>
 */
public final class Psrefs {
  private Psrefs() {}

  static final String FILE = "sys/kern/subr_psref.c";
  static final String CPU_LOCAL =
      "passive references are CPU-local, but preemption is enabled and the caller is not in a "
      + "softint or CPU-bound LWP";
  static final String CPU_LOCAL_EXPR =
      "(kpreempt_disabled() || cpu_softintr_p() || ISSET(curlwp->l_pflag, LP_BOUND))";
  static final String CLASS_EXPR = "(target->prt_class == class)";
  static final String MISMATCHED_CLASS =
      "mismatched psref target class: %p (ref) != %p (expected)";
  /**
   * The word the port writes into the dead {@code P.class} slot when {@code
   * psref_target_destroy} returns, standing for what the caller's next call leaves there in C.
   * Chosen, not measured: it is the word PR kern/51632's panic shows ({@code != 0x2
   * (expected)}).
   */
  public static final long DEAD_FRAME_WORD = 0x2L;

  public static final int PSREF_DESTROY_START = Trace.kind("psref_destroy_start");
  public static final int PSREF_DESTROY_END = Trace.kind("psref_destroy_end");
  public static final int PSREF_DEAD_FRAME = Trace.kind("psref_dead_frame_read");

  /** {@code psref_class_create(name, ipl)}. May sleep. */
  public static PsrefClass classCreate(String name, int ipl) {
    Kern.assertSleepable();
    checkArgument(name != null && !name.isEmpty() && name.length() <= 8,
        "psref class name must be 1..8 chars: %s", name);
    Ipl.check(ipl);
    Machine m = Lwp.current().machine();
    PsrefOptions o = PsrefState.of(m).options;
    int xcFlags = o.highpriDrain() ? Xcall.XC_HIGHPRI_IPL(ipl) : 0;
    return new PsrefClass(m, name, ipl, xcFlags, o);
  }

  /**
   * {@code psref_class_destroy(class)}: every reference of the class must have been released
   * (KASSERT {@code psref_class_drained_p}); then the class is freed. Any later use of it panics
   * (the port's stand-in for kmem_free'd memory; see {@link PsrefClass}).
   */
  public static void classDestroy(PsrefClass cls) {
    checkLive(cls, "psref_class_destroy");
    if (Kassert.DIAGNOSTIC) {
      Kassert.kassert(classDrainedP(cls), "psref_class_drained_p(class)", FILE, 176);
    }
    cls.poison();
  }

  /** {@code psref_class_drained_p}: no CPU's list holds a reference. Only inside assertions. */
  private static boolean classDrainedP(PsrefClass cls) {
    boolean[] drained = {true};
    cls.prcPercpu.foreach((c, pcpu) -> {
      if (pcpu.head.next != null) {
        drained[0] = false;
      }
    });
    return drained[0];
  }

  /** {@code psref_target_init(target, class)}; publish the target only afterwards. */
  public static void targetInit(PsrefTarget target, PsrefClass cls) {
    checkLive(cls, "psref_target_init");
    target.prtDraining = false;
    target.prtClass = cls;
  }

  /**
   * {@code psref_acquire(psref, target, class)}: the target must not be destroyed before this
   * returns (find it under pserialize), and the caller must not switch CPUs until release.
   */
  public static void acquire(Psref psref, PsrefTarget target, PsrefClass cls) {
    checkLive(cls, "psref_acquire");
    Lwp l = Lwp.current();
    if (Kassert.DIAGNOSTIC) {
      assertCpuLocal(l, 222);
      assertClass(target, cls, 227);
      if (target.prtDraining) {
        Kassert.failMsg("!target->prt_draining", FILE, 230,
            "psref target already destroyed: %p", target);
      }
    }
    acquireLinked(l, psref, target, cls);
  }

  /** {@code psref_release(psref, target, class)}: on the CPU and LWP that acquired it. */
  public static void release(Psref psref, PsrefTarget target, PsrefClass cls) {
    checkLive(cls, "psref_release");
    Lwp l = Lwp.current();
    if (Kassert.DIAGNOSTIC) {
      assertCpuLocal(l, 263);
      assertClass(target, cls, 268);
      if (psref.target != target) {
        Kassert.failMsg("(psref->psref_target == target)", FILE, 273,
            "passive reference target mismatch: %p (ref) != %p (expected)", psref.target,
            target);
      }
      assertSameLwp(psref, l, 276);
      assertSameCpu(psref, l, 279);
    }
    Cpu c = l.cpu();
    int s = Kern.splraiseipl(c, cls.ipl);
    if (cls.options.debug()) {
      checkExistence(cls.prcPercpu.local().head, psref, target);
    }
    Psref prev = psref.prev;
    Psref next = psref.next;
    prev.next = next;
    if (next != null) {
      next.prev = prev;
    }
    psref.linked = false;
    Kern.splx(l, c, s);
    if (cls.options.lwpCount()) {
      l.psrefReleased();
    }
    if (target.prtDraining) {
      cls.prcCv.broadcast();
    }
  }

  /**
   * {@code psref_copy(pto, pfrom, class)}: a second reference to {@code pfrom}'s target; both
   * must be released, on this CPU and LWP.
   */
  public static void copy(Psref pto, Psref pfrom, PsrefClass cls) {
    checkLive(cls, "psref_copy");
    Lwp l = Lwp.current();
    if (Kassert.DIAGNOSTIC) {
      assertCpuLocal(l, 316);
      if (pto == pfrom) {
        Kassert.failMsg("(pto != pfrom)", FILE, 321,
            "can't copy passive reference to itself: %p", pto);
      }
      assertSameLwp(pfrom, l, 326);
      assertSameCpu(pfrom, l, 329);
      if (pfrom.target.prtClass != cls) {
        Kassert.failMsg("(pfrom->psref_target->prt_class == class)", FILE, 332,
            MISMATCHED_CLASS, pfrom.target.prtClass, cls);
      }
    }
    acquireLinked(l, pto, pfrom.target, cls);
  }

  /**
   * Links {@code psref} to {@code target} on this CPU's list (acquire and copy): raise the IPL,
   * take the CPU's list ({@code percpu_getref}), insert at the head, record target, LWP and CPU,
   * give the list back ({@code percpu_putref}, a preemption point as in C), lower the IPL.
   *
   * <p>{@code curcpu()} is read once, and the putref and the splx are one step
   * ({@link org.mpsafe.kern.PerCpu#putrefSplx}: one preemption check on the host machine, both
   * points on the deterministic one). The back link and the target, LWP and CPU words are stored
   * only when they differ (release leaves them in place): a caller that reuses its psref (a
   * softint's per-CPU psref, a loop) rewrites none of them, which spares G1's post-write barrier
   * on each.
   */
  private static void acquireLinked(Lwp l, Psref psref, PsrefTarget target, PsrefClass cls) {
    Cpu c = l.cpu();
    int s = Kern.splraiseipl(c, cls.ipl);
    Psref head = cls.prcPercpu.getref(l, c).head;
    if (cls.options.debug()) {
      checkDuplication(head, psref, target);
    }
    Psref first = head.next;
    psref.next = first;
    if (psref.prev != head) {
      psref.prev = head;
    }
    if (first != null) {
      first.prev = psref;
    }
    head.next = psref;
    psref.linked = true;
    if (psref.target != target) {
      psref.target = target;
    }
    if (psref.lwp != l) {
      psref.lwp = l;
    }
    if (psref.cpu != c) {
      psref.cpu = c;
    }
    cls.prcPercpu.putrefSplx(l, c, s);
    if (cls.options.lwpCount()) {
      l.psrefAcquired();
    }
  }

  /**
   * {@code psref_held(target, class)}: true if the current CPU holds a reference to
   * {@code target}. Only inside assertions.
   */
  public static boolean held(PsrefTarget target, PsrefClass cls) {
    return psrefHeld(target, cls, false);
  }

  /**
   * {@code _psref_held(target, class, lwp_mismatch_ok)}. {@code target} and {@code class} are
   * the words {@code psreffed_p_xc} loaded from {@code P}, which may be a dead frame.
   */
  static boolean psrefHeld(Object target, Object cls, boolean lwpMismatchOk) {
    Lwp l = Lwp.current();
    PsrefTarget t = targetAt(target);
    if (Kassert.DIAGNOSTIC) {
      assertCpuLocal(l, 480);
      if (t.prtClass != cls) {
        Kassert.failMsg(CLASS_EXPR, FILE, 485, MISMATCHED_CLASS, t.prtClass, cls);
      }
    }
    PsrefClass c = classAt(cls);
    checkLive(c, "_psref_held");
    boolean held = false;
    int s = Kern.splraiseipl(l, c.ipl);
    PsrefClass.PsrefCpu pcpu = c.prcPercpu.getref(l);
    for (Psref p = pcpu.head.next; p != null; p = p.next) {
      if (Kassert.DIAGNOSTIC) {
        if (!(lwpMismatchOk || p.lwp == l)) {
          Kassert.failMsg("(lwp_mismatch_ok || psref->psref_lwp == curlwp)", FILE, 496,
              "passive reference transferred from lwp %p to lwp %p", p.lwp, l);
        }
        if (p.cpu != l.cpu()) {
          Kassert.failMsg("(psref->psref_cpu == curcpu())", FILE, 499,
              "passive reference transferred from CPU %u to CPU %u", p.cpu, l.cpu());
        }
      }
      if (p.target == t) {
        held = true;
        break;
      }
    }
    c.prcPercpu.putref(l);
    Kern.splx(l, s);
    return held;
  }

  /**
   * {@code psref_target_destroy(target, class)}: waits until no CPU holds a reference to
   * {@code target}, then marks it destroyed. The caller must have made sure no new reference
   * can be acquired (unpublished it). Must not run concurrently on one target. May sleep.
   */
  public static void targetDestroy(PsrefTarget target, PsrefClass cls) {
    checkLive(cls, "psref_target_destroy");
    Kern.assertSleepable();
    Lwp l = Lwp.current();
    beginDestroy(target, cls);
    int frameAddr = l.stack().depth();
    PsrefEvents.Destroy ev = new PsrefEvents.Destroy();
    ev.begin();
    int rounds = 1;
    while (psreffedP(target, cls)) {
      cls.prcLock.enter();
      cls.prcCv.timedwait(cls.prcLock, 1);
      cls.prcLock.exit();
      rounds++;
    }
    markDestroyed(target, cls);
    ev.end();
    if (ev.shouldCommit()) {
      ev.cls = cls.name;
      ev.target = String.valueOf(target);
      ev.rounds = rounds;
      ev.commit();
    }
    reuseDeadFrame(l, frameAddr);
  }

  /** {@code struct psreffed P}: three words on the destroyer's kernel stack. */
  static final int FRAME_CLASS = 0;
  static final int FRAME_TARGET = 1;
  static final int FRAME_RET = 2;

  /** The start of {@code psref_target_destroy}: its KASSERTs, then {@code prt_draining}. */
  private static void beginDestroy(PsrefTarget target, PsrefClass cls) {
    if (Kassert.DIAGNOSTIC) {
      assertClass(target, cls, 412);
      Kassert.kassertMsg(!target.prtDraining, "!target->prt_draining", FILE, 417,
          "psref target already destroyed: %p", target);
    }
    target.prtDraining = true;
    Trace.record(PSREF_DESTROY_START, Kaddr.of(target), Kaddr.of(cls));
  }

  /** The end of {@code psref_target_destroy}: no CPU held {@code target} in the last round. */
  private static void markDestroyed(PsrefTarget target, PsrefClass cls) {
    target.prtClass = null;
    cls.destroys.incrementAndGet();
    Trace.record(PSREF_DESTROY_END, Kaddr.of(target), Kaddr.of(cls));
  }

  /**
   * {@link #targetDestroy} of several targets of {@code cls} at once: each is set draining
   * first, and each is marked destroyed after a {@code psreffed_p} round in which no CPU held
   * it, exactly as {@code psref_target_destroy} would do it alone; but one xcall round checks
   * every target still draining, so n targets with no holders cost one round instead of n.
   * Targets found unheld are destroyed at once; the rest wait on the class's cv (one tick at
   * most, as psref_target_destroy does) for the next round. Not NetBSD's: a batch user (the
   * rt_free thread with RtLookup.PSERIALIZE) would call psref_target_destroy in a loop there.
   * Same caller rules as {@link #targetDestroy}, for every target. One JFR {@code Destroy}
   * event covers the batch ({@code target} = "N targets"). May sleep.
   */
  public static void targetDestroyAll(List<PsrefTarget> targets, PsrefClass cls) {
    checkLive(cls, "psref_target_destroy");
    Kern.assertSleepable();
    Lwp l = Lwp.current();
    PsrefTarget[] left = targets.toArray(new PsrefTarget[0]);
    for (PsrefTarget target : left) {
      beginDestroy(target, cls);
    }
    int frameAddr = l.stack().depth();
    PsrefEvents.Destroy ev = new PsrefEvents.Destroy();
    ev.begin();
    int n = left.length;
    int rounds = 0;
    while (n > 0) {
      boolean[] held = psreffedAll(left, n, cls);
      rounds++;
      int k = 0;
      for (int i = 0; i < n; i++) {
        if (held[i]) {
          left[k++] = left[i];
        } else {
          markDestroyed(left[i], cls);
        }
      }
      n = k;
      if (n > 0) {
        cls.prcLock.enter();
        cls.prcCv.timedwait(cls.prcLock, 1);
        cls.prcLock.exit();
      }
    }
    ev.end();
    if (ev.shouldCommit()) {
      ev.cls = cls.name;
      ev.target = targets.size() == 1
          ? String.valueOf(targets.get(0)) : targets.size() + " targets";
      ev.rounds = rounds;
      ev.commit();
    }
    reuseDeadFrame(l, frameAddr);
  }

  /**
   * {@code psreffed_p} for the first {@code n} of {@code targets}: one xcall round; element i of
   * the result is true if some CPU holds a reference to target i. The frame is psreffed_p's
   * with an array of targets in {@code P.target} and of answers in {@code P.ret}.
   */
  private static boolean[] psreffedAll(PsrefTarget[] targets, int n, PsrefClass cls) {
    Lwp l = Lwp.current();
    boolean[] held = new boolean[n];
    KStack.Ptr p = l.stack().push(3);
    p.store(FRAME_CLASS, cls);
    p.store(FRAME_TARGET, Arrays.copyOf(targets, n));
    p.store(FRAME_RET, held);
    FrameTag tag = cls.options.frameDetector() ? new FrameTag(l.name()) : null;
    long where = Xcall.broadcast(cls.prcXcFlags, PSREFFED_ALL_XC, p, tag);
    if (tag != null) {
      tag.ticket = where;
    }
    Xcall.waitFor(where);
    l.stack().pop(p);
    return held;
  }

  /** {@code psreffed_p_xc} for {@link #psreffedAll}: marks each target this CPU holds. */
  private static final XcFunc PSREFFED_ALL_XC = (cookie0, cookie1) -> {
    KStack.Ptr p = (KStack.Ptr) cookie0;
    reportIfDead(p, cookie1);
    Object cls = p.load(FRAME_CLASS);
    Object[] targets = (Object[]) p.load(FRAME_TARGET);
    boolean[] held = (boolean[]) p.load(FRAME_RET);
    for (int i = 0; i < targets.length; i++) {
      if (psrefHeld(targets[i], cls, true)) {
        held[i] = true;
      }
    }
  };

  /** The caller's next call overwrites the slot where psreffed_p's {@code P.class} was. */
  private static void reuseDeadFrame(Lwp l, int frameAddr) {
    l.stack().reuse(frameAddr + FRAME_CLASS, Long.valueOf(DEAD_FRAME_WORD));
  }

  /** {@code psreffed_p}: does any CPU hold a reference to {@code target}? One xcall round. */
  static boolean psreffedP(PsrefTarget target, PsrefClass cls) {
    Lwp l = Lwp.current();
    KStack.Ptr p = l.stack().push(3);
    p.store(FRAME_CLASS, cls);
    p.store(FRAME_TARGET, target);
    p.store(FRAME_RET, Boolean.FALSE);
    FrameTag tag = cls.options.frameDetector() ? new FrameTag(l.name()) : null;
    long where = Xcall.broadcast(cls.prcXcFlags, PSREFFED_P_XC, p, tag);
    if (tag != null) {
      tag.ticket = where;
    }
    Xcall.waitFor(where);
    boolean ret = (Boolean) p.load(FRAME_RET);
    l.stack().pop(p);
    return ret;
  }

  /** The detector's note riding on arg2: who owns the frame and under which ticket. */
  static final class FrameTag {
    final String owner;
    volatile long ticket;

    FrameTag(String owner) {
      this.owner = owner;
    }
  }

  /** {@code psreffed_p_xc}: runs on every CPU; sets {@code P->ret} if this CPU holds one. */
  private static final XcFunc PSREFFED_P_XC = (cookie0, cookie1) -> {
    KStack.Ptr p = (KStack.Ptr) cookie0;
    reportIfDead(p, cookie1);
    if (psrefHeld(p.load(FRAME_TARGET), p.load(FRAME_CLASS), true)) {
      p.store(FRAME_RET, Boolean.TRUE);
    }
  };

  /**
   * The frame detector (PsrefOptions.frameDetector): a callback that finds its destroyer's
   * frame {@code p} popped (xc_wait returned before it ran) reports the use after return.
   */
  private static void reportIfDead(KStack.Ptr p, Object cookie1) {
    if (cookie1 != null && !p.live()) {
      FrameTag tag = (FrameTag) cookie1;
      Lwp l = Lwp.current();
      Trace.record(PSREF_DEAD_FRAME, tag.ticket, Kaddr.of(p));
      PsrefEvents.DeadFrameRead ev = new PsrefEvents.DeadFrameRead();
      if (ev.isEnabled()) {
        ev.owner = tag.owner;
        ev.ticket = tag.ticket;
        ev.cpu = l.cpu().index();
        ev.commit();
      }
      PsrefState.of(l.machine()).report(new UseAfterReturn(tag.owner, Kaddr.format(p),
          tag.ticket, l.cpu().index(), Kaddr.format(p.load(FRAME_CLASS)),
          l.machine().uptimeNanos()));
    }
  }

  // ---- loads through words, use after destroy -----------------------------------------------

  /**
   * The {@code struct psref_class} at {@code word}: the class itself, or, for a word that is
   * not one (the dead frame's {@link #DEAD_FRAME_WORD}), the fatal page fault C takes when it
   * loads {@code class->prc_iplcookie} from that address.
   */
  private static PsrefClass classAt(Object word) {
    if (word instanceof PsrefClass) {
      return (PsrefClass) word;
    }
    throw pageFault("class", word);
  }

  /** The {@code struct psref_target} at {@code word}; as {@link #classAt}. */
  private static PsrefTarget targetAt(Object word) {
    if (word instanceof PsrefTarget) {
      return (PsrefTarget) word;
    }
    throw pageFault("target", word);
  }

  private static KernelPanic pageFault(String what, Object word) {
    throw Kassert.panic("fatal page fault in supervisor mode: _psref_held loaded through %s "
        + "= %p, which is not a mapped kernel address", what, word);
  }

  /**
   * Panics if {@code cls} was destroyed: NetBSD's memory is free then, the port's poisoned. A
   * null class is left to the KASSERTs that name it ({@code != 0x0 (expected)}).
   */
  private static void checkLive(PsrefClass cls, String op) {
    if (cls != null && cls.prcDestroyed) {
      throw Kassert.panic("%s: psref class %p (%s) used after psref_class_destroy", op, cls,
          cls.name);
    }
  }

  // ---- assertions ---------------------------------------------------------------------------

  private static void assertCpuLocal(Lwp l, int line) {
    if (!(Kern.kpreemptDisabled(l) || (l.pflag() & Lwp.LP_INTR) != 0 || l.isBound())) {
      Kassert.failMsg(CPU_LOCAL_EXPR, FILE, line, CPU_LOCAL);
    }
  }

  private static void assertClass(PsrefTarget target, PsrefClass cls, int line) {
    if (target.prtClass != cls) {
      Kassert.failMsg(CLASS_EXPR, FILE, line, MISMATCHED_CLASS, target.prtClass, cls);
    }
  }

  private static void assertSameLwp(Psref psref, Lwp l, int line) {
    if (psref.lwp != l) {
      Kassert.failMsg("(psref->psref_lwp == curlwp)", FILE, line,
          "passive reference transferred from lwp %p to lwp %p", psref.lwp, l);
    }
  }

  private static void assertSameCpu(Psref psref, Lwp l, int line) {
    Cpu c = l.cpu();
    if (psref.cpu != c) {
      Kassert.failMsg("(psref->psref_cpu == curcpu())", FILE, line,
          "passive reference transferred from CPU %u to CPU %u", psref.cpu, c);
    }
  }

  /** DEBUG ({@code psref_check_duplication}, NetBSD ≥ 8). */
  private static void checkDuplication(Psref head, Psref psref, PsrefTarget target) {
    for (Psref p = head.next; p != null; p = p.next) {
      if (p == psref) {
        throw Kassert.panic("The psref is already in the list (acquiring twice?): "
            + "psref=%p target=%p", psref, target);
      }
    }
  }

  /** DEBUG ({@code psref_check_existence}, NetBSD ≥ 8). */
  private static void checkExistence(Psref head, Psref psref, PsrefTarget target) {
    for (Psref p = head.next; p != null; p = p.next) {
      if (p == psref) {
        return;
      }
    }
    throw Kassert.panic("The psref isn't in the list (releasing unused psref?): "
        + "psref=%p target=%p", psref, target);
  }

  // ---- detector access ---------------------------------------------------------------------

  /** Use-after-return findings of {@code m} so far (0 when the detector is off). */
  public static long useAfterReturnCount(Machine m) {
    return PsrefState.of(m).useAfterReturn.get();
  }

  /** The first use-after-return findings (at most 64). */
  public static List<UseAfterReturn> useAfterReturnEvents(Machine m) {
    return List.copyOf(PsrefState.of(m).recent);
  }

  /** Calls {@code l} (in the reading CPU's xcall thread) for each dead-frame read. */
  public static void onUseAfterReturn(Machine m, Consumer<UseAfterReturn> l) {
    checkNotNull(l, "listener");
    PsrefState.of(m).listeners.add(l);
  }
}
