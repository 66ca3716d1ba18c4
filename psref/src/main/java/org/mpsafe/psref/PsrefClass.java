package org.mpsafe.psref;

import java.util.concurrent.atomic.AtomicLong;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.KObject;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.PerCpu;

/**
 * {@code struct psref_class}: a family of targets with one IPL, one wait channel and one list of
 * references per CPU. Made by {@link Psrefs#classCreate}, freed by {@link Psrefs#classDestroy}.
 *
 * <p>State machine: live → destroyed. {@code psref_class_destroy} frees the class in C
 * ({@code cv_destroy}, {@code mutex_destroy}, {@code percpu_free}, {@code kmem_free}), after
 * which any use is a use after free. Java keeps the object alive, so the port poisons it
 * instead: {@link #prcDestroyed} is set once, and every psref operation given this class
 * (acquire, release, copy, held, target init and destroy, class destroy) checks it first and
 * panics {@code "<op>: psref class %p (name) used after psref_class_destroy"}. The check is one
 * plain read of a field next to the ones the operation reads anyway; it is exact for a use
 * ordered after the destroy (the same LWP, or one that learned of the destroy through a lock,
 * a cv or a CPU handoff), and best effort for a use racing with it, which is a caller bug with
 * no defined outcome in C either.
 */
public final class PsrefClass implements KObject {
  private final long kaddr = Kaddr.alloc();
  final String name;
  final int ipl;
  /** {@code prc_lock}, {@code prc_cv}: the destroyer's timed wait. */
  final KMutex prcLock;
  final KCondvar prcCv;
  /** {@code prc_percpu}: {@code struct psref_cpu} per CPU. */
  final PerCpu<PsrefCpu> prcPercpu;
  /** {@code prc_xc_flags}: 0 (2016: low-priority xcall) or XC_HIGHPRI_IPL(ipl) (NetBSD 8). */
  final int prcXcFlags;
  final PsrefOptions options;
  final AtomicLong destroys = new AtomicLong();
  /** Set once by {@code psref_class_destroy}; plain, see the class notes. */
  boolean prcDestroyed;

  /** {@code struct psref_cpu}: the head of one CPU's list (a sentinel, so no head to find). */
  static final class PsrefCpu {
    final Psref head = new Psref();
  }

  PsrefClass(Machine m, String name, int ipl, int xcFlags, PsrefOptions options) {
    this.name = name;
    this.ipl = ipl;
    this.prcLock = new KMutex(name, KMutex.MUTEX_DEFAULT, Ipl.IPL_NONE);
    this.prcCv = new KCondvar(name);
    this.prcPercpu = PerCpu.alloc(m, i -> new PsrefCpu());
    this.prcXcFlags = xcFlags;
    this.options = options;
  }

  public String name() {
    return name;
  }

  public int ipl() {
    return ipl;
  }

  /** Marks the class freed ({@code kmem_free}): every later use panics. */
  void poison() {
    prcDestroyed = true;
  }

  /** Whether {@link Psrefs#classDestroy} freed this class. */
  public boolean destroyed() {
    return prcDestroyed;
  }

  /** Targets of this class destroyed so far. */
  public long destroys() {
    return destroys.get();
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "psref_class " + name + " " + Kaddr.format(this);
  }
}
