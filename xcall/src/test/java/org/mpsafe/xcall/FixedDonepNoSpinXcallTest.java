package org.mpsafe.xcall;

/**
 * {@link FixedDonepXcallTest} with {@link Xcall#OPTION_WAIT_SPIN} off: {@code xc_wait} checks
 * {@code xc_donep} once and then sleeps, as NetBSD's does. The whole contract must hold
 * unchanged, since the spin only decides how the waiter waits, not what for.
 */
class FixedDonepNoSpinXcallTest extends FixedDonepXcallTest {
  @Override
  boolean waitSpin() {
    return false;
  }
}
