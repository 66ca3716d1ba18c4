package org.mpsafe.net;

import org.mpsafe.kern.CachePadBefore;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.KObject;
import org.mpsafe.psref.Psref;

/**
 * {@code struct route} ({@code sys/net/route.h}): a one-entry route cache (rtcache) for one
 * destination — the destination ({@code ro_sa}), the route found for it ({@code _ro_rt}), the
 * routing-table generation it was found in ({@code ro_rtcache_generation}), and the one passive
 * reference ({@code ro_psref}, with the {@code curlwp_bind} cookie {@code ro_bound}) through
 * which a caller holds that route between {@code rtcache_lookup}/{@code rtcache_validate} and
 * {@code rtcache_unref}. Used through {@link RouteTable}'s {@code rtcache*} methods.
 *
 * <p>Not thread-safe, by contract: route.c's locking notes (1.207) — "rtcaches are NOT
 * protected by the framework; callers must guarantee a rtcache isn't accessed simultaneously"
 * and "struct route (rtcache) has struct psref, so we cannot obtain a reference twice on the same
 * struct route". Guard one with a mutex, or keep one per CPU and use it only from a softint
 * ({@code ipforward_rt_percpu}); {@link IpforwardRtcache#SHARED} breaks the rule on purpose.
 *
 * <pre>
 * Implementation notes
 *
 * C to Java: ro_sa (a struct sockaddr *, NULL or an AF_INET address) → roSaSet + roSa (IPv4
 * only, so rtcache_setdst's "wrong family" branch never runs); _ro_rt → roRt;
 * ro_rtcache_generation → roRtcacheGeneration; ro_psref → roPsref (a Psref, padded against
 * false sharing); ro_bound → roBound.
 *
 * Fields are plain, as in C: the owner is the only accessor (the contract above). Per-CPU
 * routes are allocated one after another, and a cache hit writes roBound and roPsref, so the
 * fields sit between paddings (CachePadBefore, the tail longs) as Psref's do.
 * </pre>
 */
public final class Route extends RouteFields implements KObject {
  // padding after the fields (see Implementation notes); never read
  long q0, q1, q2, q3, q4, q5, q6, q7;

  /** {@code rtcache_getdst(ro) != NULL}. */
  public boolean hasDst() {
    return roSaSet;
  }

  /** The cached destination ({@code ro_sa}); meaningful only if {@link #hasDst()}. */
  public int dst() {
    return roSa;
  }

  /** {@code _ro_rt}: the cached route, valid or not (use {@code rtcache_validate}). */
  public Rtentry cachedRoute() {
    return roRt;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "route " + Kaddr.format(this);
  }
}

/** The fields of {@code struct route}, between the paddings. */
abstract class RouteFields extends CachePadBefore {
  final long kaddr = Kaddr.alloc();
  /** {@code ro_sa != NULL}. */
  boolean roSaSet;
  /** {@code ro_sa}'s address. */
  int roSa;
  /** {@code _ro_rt}. */
  Rtentry roRt;
  /** {@code ro_rtcache_generation}. */
  long roRtcacheGeneration;
  /** {@code ro_psref}. */
  final Psref roPsref = new Psref();
  /** {@code ro_bound}. */
  int roBound;
}
