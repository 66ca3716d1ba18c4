package org.mpsafe.net;

import org.mpsafe.kern.KRwlock;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.psref.Psrefs;

/**
 * The route cache functions of {@code sys/net/route.c} (1.207, NET_MPSAFE) over one
 * {@link RouteTable}: {@code rtcache_lookup}, {@code rtcache_validate}, {@code rtcache_unref},
 * {@code rtcache_free}, {@code rtcache_setdst}. A {@link Route} caches the route to one
 * destination; a hit costs a generation compare under {@code rt_lock} (reader) and a psref on
 * the route, a miss a routing-table lookup ({@code rtalloc1}) as well.
 *
 * <pre>{@code
 * Rtentry rt = rtcache.lookup(ro, dst);     // holds ro's psref on rt, or null
 * if (rt != null) { use(rt); rtcache.unref(rt, ro); }
 * }</pre>
 *
 * <p>The caller must own {@code ro} exclusively from lookup to unref, and must not switch CPUs
 * in between (softint, or bound: {@code rtcache_ref} binds the LWP itself). A struct route has
 * one psref, so it holds at most one reference at a time (route.c's locking notes: "we cannot
 * obtain a reference twice on the same struct route").
 *
 * <pre>
 * Implementation notes
 *
 * Port of route.c 1.207 (NetBSD/src, 2018-03-23): rtcache_ref (ro_bound = curlwp_bind();
 * psref_acquire(&ro->ro_psref, &rt->rt_psref, rt_psref_class)), rtcache_unref (psref_release;
 * curlwp_bindx(ro->ro_bound)), rtcache_validate (RT_RLOCK; generation; _ro_rt; RTF_UP; ref),
 * rtcache_lookup2 (dst compare → rtcache_free on a different destination; validate; on a miss
 * rtcache_setdst + _rtcache_init: rtalloc1, then under RT_RLOCK _ro_rt, the generation
 * snapshot and the ref, then rt_unref; it returns ro->_ro_rt, re-read), rtcache_free,
 * rtcache_setdst, and route.h's rtcache_invariants.
 *
 * What a hit writes: the reader count of rt_lock (NetBSD 1.207 takes RT_RLOCK in
 * rtcache_validate too), ro_bound and ro_psref (the owner's), and the CPU's psref list. With
 * one Route per CPU nothing but rt_lock's word is shared; a lock-free validate would need the
 * deleter to wait for readers (pserialize) before psref_target_destroy, which route.c 1.207
 * does not do.
 *
 * Differences: no RTF_UPDATING (no RTM_CHANGE here), so rtcache_validate never waits or
 * fails an updating entry; ro_sa is an IPv4 address (see Route), so sockaddr_free/dup are
 * field stores; clone (rtalloc1's report flag) has no effect. The KASSERT line numbers of
 * route.c/route.h are not given (0): the stored copy was read in pieces, so they could not be
 * counted.
 * </pre>
 */
public final class Rtcache {
  private static final String ROUTE_C = "sys/net/route.c";
  private static final String ROUTE_H = "sys/net/route.h";

  private final RouteTable table;

  Rtcache(RouteTable table) {
    this.table = table;
  }

  /**
   * {@code rtcache_lookup(ro, dst)} ({@code rtcache_lookup2(ro, dst, 1, NULL)}): the route to
   * {@code dst}, from the cache if it holds {@code dst} and is still valid, else from the
   * table (and cached); held by {@code ro}'s psref until {@link #unref}. Null if there is no
   * route. Caller: softint or bound LWP, owning {@code ro}.
   */
  public Rtentry lookup(Route ro, int dst) {
    if (ro.roSaSet) {
      if (ro.roSa != dst) {
        free(ro);
      } else {
        Rtentry rt = validate(ro);
        if (rt != null) {
          invariants(ro);
          return rt;
        }
        ro.roRt = null;
      }
    }
    // miss:
    Rtentry rt = null;
    if (setdst(ro, dst) == 0) {
      rt = init(ro);
    }
    invariants(ro);
    return rt;
  }

  /**
   * {@code rtcache_validate(ro)}: the cached route if the cache is current (its generation
   * snapshot equals the table's) and the route is up, referenced through {@code ro}'s psref;
   * else null (nothing held).
   */
  public Rtentry validate(Route ro) {
    invariants(ro);
    KRwlock lock = table.rtLock;
    lock.enter(KRwlock.RW_READER);
    Rtentry rt = null;
    if (ro.roRtcacheGeneration == table.rtcacheGeneration) {
      rt = ro.roRt;
      if (rt != null && (rt.flags & Rtentry.RTF_UP) == 0) {
        rt = null;
      }
      if (rt != null) {
        ref(rt, ro);
      }
    }
    lock.exit();
    return rt;
  }

  /** {@code rtcache_unref(rt, ro)}: releases what lookup/validate took; null is a no-op. */
  public void unref(Rtentry rt, Route ro) {
    if (rt == null) {
      return;
    }
    Psrefs.release(ro.roPsref, rt.rtPsref, table.rtPsrefClass);
    Kern.curlwpBindx(ro.roBound);
  }

  /** {@code rtcache_free(ro)}: forgets the destination and the route (holds nothing). */
  public void free(Route ro) {
    ro.roRt = null;
    if (ro.roSaSet) {
      ro.roSaSet = false;
      ro.roSa = 0;
    }
    invariants(ro);
  }

  /** {@code rtcache_setdst(ro, sa)}: caches {@code dst}, dropping the cached route; 0. */
  int setdst(Route ro, int dst) {
    invariants(ro);
    if (ro.roSaSet) {
      // same family (AF_INET): overwrite in place
      ro.roRt = null;
      ro.roSa = dst;
      invariants(ro);
      return 0;
    }
    Kassert.kassert(ro.roRt == null, "ro->_ro_rt == NULL", ROUTE_C, 0);
    ro.roSa = dst;
    ro.roSaSet = true;
    invariants(ro);
    return 0;
  }

  /** {@code rtcache_ref(rt, ro)}: binds the LWP and takes {@code ro}'s psref on {@code rt}. */
  private void ref(Rtentry rt, Route ro) {
    Kassert.kassert(rt != null, "rt != NULL", ROUTE_C, 0);
    ro.roBound = Kern.curlwpBind();
    Psrefs.acquire(ro.roPsref, rt.rtPsref, table.rtPsrefClass);
  }

  /**
   * {@code _rtcache_init(ro, flag)}: looks {@code ro}'s destination up in the table and caches
   * the route with the current generation, referenced; returns {@code ro->_ro_rt} (re-read).
   */
  private Rtentry init(Route ro) {
    invariants(ro);
    Kassert.kassert(ro.roRt == null, "ro->_ro_rt == NULL", ROUTE_C, 0);
    if (!ro.roSaSet) {
      return null;
    }
    Rtentry rt = table.rtalloc1(ro.roSa);
    if (rt != null) {
      KRwlock lock = table.rtLock;
      lock.enter(KRwlock.RW_READER);
      if ((rt.flags & Rtentry.RTF_UP) != 0) {
        ro.roRt = rt;
        ro.roRtcacheGeneration = table.rtcacheGeneration;
        ref(rt, ro);
      }
      lock.exit();
      table.rtUnref(rt);
    }
    invariants(ro);
    return ro.roRt;
  }

  /** {@code rtcache_invariants(ro)} (route.h): no route without a destination. */
  private static void invariants(Route ro) {
    Kassert.kassert(ro.roSaSet || ro.roRt == null, "ro->ro_sa != NULL || ro->_ro_rt == NULL",
        ROUTE_H, 0);
  }
}
