package org.mpsafe.psref;

import org.mpsafe.kern.CachePadBefore;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.KObject;
import org.mpsafe.kern.Lwp;

/**
 * {@code struct psref}: one passive reference, owned by the caller (as C puts it on the stack)
 * and reused freely between a release and the next acquire. Allocate one per holder and keep
 * it: acquire and release allocate nothing.
 *
 * <p>Read and written only on the CPU that holds it.
 *
 * <pre>
 * Implementation notes
 *
 * Padding. A C psref lives on its holder's stack, so two CPUs' psrefs never share a cache line.
 * Java psrefs are heap objects, and objects one thread allocates in a row (the list heads of a
 * class, one per CPU; ipintr's per-CPU psrefs) sit next to each other — and GC copies them
 * next to each other again. Acquire and release write the psref and its neighbour on the list
 * (the CPU's head), so two CPUs writing adjacent psrefs would bounce one line between them
 * (false sharing: measured several times slower with 2 threads, see docs/performance.md). The
 * fields therefore sit between 64+ bytes of padding on each side (CachePadBefore / Psref's own
 * tail; superclass fields are laid out first). Costs ~150 bytes per psref; changes nothing else.
 * </pre>
 */
public final class Psref extends PsrefFields implements KObject {
  // padding after the fields (see Implementation notes); never read
  long q0, q1, q2, q3, q4, q5, q6, q7;

  /** The target it references (last acquired). */
  public PsrefTarget target() {
    return target;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "psref " + Kaddr.format(this);
  }
}

/** The fields of {@code struct psref}, between the paddings. */
abstract class PsrefFields extends CachePadBefore {
  final long kaddr = Kaddr.alloc();
  /** {@code psref_entry}: the CPU's list of this class. */
  Psref next;
  Psref prev;
  /** True while on a list (DEBUG checks only). */
  boolean linked;
  PsrefTarget target;
  Lwp lwp;
  Cpu cpu;
}
