/**
 * Cross calls, a port of {@code sys/kern/subr_xcall.c}: {@link Xcall}
 * ({@code xc_broadcast}, {@code xc_unicast}, {@code xc_wait}, {@code xc_barrier}).
 *
 * <p>Design in one paragraph. Low priority: one global job slot ({@code xc_low_pri}), one bound
 * {@code xcall/N} thread per CPU; a requester sleeps until the previous job is over, and
 * {@code xc_wait(where)} returns when {@code xc_donep >= where}. What "over" means is the boot
 * option {@link XcallAccounting}: {@code LEGACY_TAILP} (NetBSD 6/7, every CPU
 * merely started it: PR kern/51632) or {@code FIXED_DONEP} (the PR's fix); the whole difference
 * is {@code Xcall.overCount()} and {@code Xcall.countStarted()}. High priority runs the function
 * in a softint at a soft IPL on each target CPU. The early-return detector and the
 * fault-injection hooks ({@link XcallHooks}) observe or delay, never reorder.
 */
package org.mpsafe.xcall;
