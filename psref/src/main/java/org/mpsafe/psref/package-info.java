/**
 * Passive references and passive serialization, ports of {@code sys/kern/subr_psref.c} (2016,
 * the version in PR kern/51632) and {@code sys/kern/subr_pserialize.c}:
 * {@link Psrefs}, {@link Pserialize}.
 *
 * <p>Design in one paragraph. Acquire and release touch only the current CPU's list of the
 * class, at the class IPL, with no atomics and no allocation; destroying a target marks it
 * draining and asks every CPU by low-priority xcall ({@code psreffed_p}) whether it still holds
 * a reference, until none does. {@code psreffed_p}'s {@code struct psreffed P} lives on the
 * destroying LWP's {@link KStack}, so when xcall returns early (legacy
 * accounting) a late callback reads a dead frame and {@code _psref_held}'s KASSERT fails with
 * the PR's {@code mismatched psref target class: 0x0 (ref) != 0x2 (expected)}. Later NetBSD
 * behaviour (high-priority drain, DEBUG checks, {@code l_psrefs}) are boot options
 * ({@link PsrefOptions}).
 */
package org.mpsafe.psref;

import org.mpsafe.kern.KStack;
