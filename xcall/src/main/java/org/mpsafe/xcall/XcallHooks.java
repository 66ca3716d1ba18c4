package org.mpsafe.xcall;

import org.mpsafe.kern.Cpu;

/**
 * Fault-injection points of xcall (see {@link Xcall#setHooks}). Both run on an LWP that may
 * sleep; to delay, block in kernel primitives (KMutex/KCondvar), never in Java locks.
 */
public interface XcallHooks {
  /** In {@code xcall/N} of {@code ci}, after it took low-priority job {@code job} and dropped xc_lock. */
  default void beforeCallback(Cpu ci, long job) {}

  /** At the start of {@code xc_wait(where)}, in the waiter. */
  default void beforeWait(long where) {}
}
