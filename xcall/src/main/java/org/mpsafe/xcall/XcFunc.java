package org.mpsafe.xcall;

/**
 * {@code xcfunc_t}: a cross-call function, {@code void (*)(void *arg1, void *arg2)}.
 *
 * <p>Low priority: runs in the target CPU's {@code xcall/N} thread (thread context, may block
 * briefly, must not leave preemption disabled). High priority: runs in a softint at the
 * requested soft IPL and must not block.
 */
@FunctionalInterface
public interface XcFunc {
  void call(Object arg1, Object arg2);
}
