package org.mpsafe.psref;

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
 */
public final class Psref implements KObject {
  private final long kaddr = Kaddr.alloc();
  /** {@code psref_entry}: the CPU's list of this class. */
  Psref next;
  Psref prev;
  /** True while on a list (DEBUG checks only). */
  boolean linked;
  PsrefTarget target;
  Lwp lwp;
  Cpu cpu;

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
