package org.mpsafe.xcall;

/**
 * {@link LegacyTailpXcallTest} with {@link Xcall#OPTION_WAIT_SPIN} off: NetBSD 7's
 * {@code xc_wait} (one check of {@code xc_donep}, then {@code cv_wait}) on NetBSD 7's
 * accounting. The early return must happen the same way without the spin.
 */
class LegacyTailpNoSpinXcallTest extends LegacyTailpXcallTest {
  @Override
  boolean waitSpin() {
    return false;
  }
}
