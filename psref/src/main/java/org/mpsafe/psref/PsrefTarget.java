package org.mpsafe.psref;

import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.KObject;

/**
 * {@code struct psref_target}: embedded in every object passive references can point at.
 *
 * <p>State machine: live ({@code prt_class} set, not draining) → draining (set once by
 * {@code psref_target_destroy}; acquire asserts, release notifies) → destroyed
 * ({@code prt_class == NULL}).
 */
public final class PsrefTarget implements KObject {
  private final long kaddr = Kaddr.alloc();
  /** {@code prt_class}; NULL once destroyed. Written before publication and by the destroyer. */
  volatile PsrefClass prtClass;
  /** {@code prt_draining}; false → true once, by the destroyer. */
  volatile boolean prtDraining;
  private final Object owner;

  /** An uninitialised target (call {@link Psrefs#targetInit}); {@code owner} names it. */
  public PsrefTarget(Object owner) {
    this.owner = owner;
  }

  public PsrefTarget() {
    this(null);
  }

  /** {@code prt_class} (null once destroyed). */
  public PsrefClass prtClass() {
    return prtClass;
  }

  public boolean draining() {
    return prtDraining;
  }

  /** The object this target is embedded in, for reports; may be null. */
  public Object owner() {
    return owner;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "psref_target " + Kaddr.format(this) + (owner == null ? "" : " of " + owner);
  }
}
