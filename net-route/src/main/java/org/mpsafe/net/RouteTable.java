package org.mpsafe.net;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.KRwlock;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.psref.Pserialize;
import org.mpsafe.psref.Psref;
import org.mpsafe.psref.PsrefClass;
import org.mpsafe.psref.Psrefs;

/**
 * The routing table ({@code sys/net/route.c}, simplified): longest-prefix match under
 * {@code rt_lock}, routes held by psref on the forwarding path and by refcount elsewhere.
 *
 * <pre>
 * Implementation notes
 *
 * Locking (route.c's "Locking notes"): rt_lock is a krwlock; lookups take it as reader and do
 * not block each other, rtrequest takes it as writer. A route can be found only while it is in
 * the table with RTF_UP; RTM_DELETE unlinks it and clears RTF_UP under the write lock, so once
 * the lock is dropped no new reference of either kind can be taken, and rt_free may wait for
 * the existing ones: rt_refcnt on rt_free_cv, then the psref through psref_target_destroy
 * (NET_MPSAFE _rt_free; RtFree). rt_free in a softint is deferred to the "rt_free" workqueue
 * thread, as in NetBSD; from thread context it runs inline, so the deleting LWP itself drains
 * the psref — the parallel low-priority xcall user of PR kern/51632.
 *
 * RTM_ADD finds its interface address as NetBSD 7's rtrequest1 does (route.c 1.152, the copy in
 * Stichting-MINIX-Research-Foundation/minix sys/net/route.c: rt_getifa, ifa_ifwithroute): from
 * the gateway's connected subnet, else from the route dst already takes; none is ENETUNREACH.
 * The lookup and the ifaref are done under rt_lock and ifaRefLock, where NetBSD 7 relies on the
 * big kernel lock; an ifaddr that in_purgeaddr has marked IFA_DESTROYING counts as none.
 *
 * rtcache (route.c 1.207): rtcache_generation is bumped under rt_lock (writer) by every RTM_ADD
 * and RTM_DELETE (rtcache_invalidate); struct route and the rtcache_* functions are in Route
 * and Rtcache. The forwarding path uses them only with IpforwardRtcache.SHARED or PERCPU.
 *
 * Lock-free lookup (boot option RtLookup.PSERIALIZE, not NetBSD's: the port's fast path).
 * rtalloc1_psref reads a snapshot of the table (LpmTable.Snapshot) in a pserialize read section
 * and takes the route's psref there; every change republishes the snapshot under rt_lock
 * (writer), and _rt_free performs a pserialize barrier before psref_target_destroy, so the
 * drain starts only when no reader can still acquire (RtFree R1). To keep that barrier off the
 * deleter's path, rt_free from thread context is deferred to the rt_free thread as well, which
 * shares one barrier among all the routes queued for a run; in_purgeaddr waits for that queue
 * before ifa_remove (RtFree notes, "Batched rt_free"). The refcount lookups (rtalloc1) and the
 * rtcache keep rt_lock.
 *
 * Differences: no radix tree (see LpmTable), no routing socket, no RTF_UPDATING; ifa_refcnt is
 * guarded by the leaf lock ifaRefLock instead of the big locks.
 * </pre>
 */
public final class RouteTable {
  private static final String FILE = "sys/net/route.c";

  final Machine machine;
  /** The stack's addresses, for rt_getifa; set once by NetStack before any route is added. */
  InAddrs addrs;
  /** {@code rt_lock}. */
  final KRwlock rtLock = new KRwlock("rt_lock");
  /** {@code rt_psref_class} ("rtentry", IPL_SOFTNET). */
  final PsrefClass rtPsrefClass;
  private final LpmTable table = new LpmTable();
  /** How {@link #rtalloc1Psref} reads the table (boot option {@link RtLookup#OPTION}). */
  final RtLookup lookup;
  /**
   * {@link RtLookup#PSERIALIZE}: the table as lock-free readers see it, republished under
   * rt_lock (writer) after every change; null with {@link RtLookup#RWLOCK}.
   */
  private volatile LpmTable.Snapshot snapshot;
  /** {@link RtLookup#PSERIALIZE}: waited on by rt_free before the psref drain; else null. */
  private final Pserialize rtPsz;
  /** rt_free and its workqueue. */
  final RtFree rtFreeWq;
  final KMutex ifaRefLock = new KMutex("ifa_ref");
  final AtomicLong rtDestroys = new AtomicLong();
  /**
   * {@code rtcache_generation}: bumped under rt_lock (writer) by every RTM_ADD and RTM_DELETE
   * ({@code rtcache_invalidate}); an rtcache is valid only while its snapshot equals it. Read
   * under rt_lock (reader).
   */
  long rtcacheGeneration;
  /** The rtcache functions ({@code rtcache_*}) over this table. */
  final Rtcache rtcache = new Rtcache(this);

  /** {@code rtcache_invalidate}: caller holds rt_lock as writer. */
  private void rtcacheInvalidate() {
    rtcacheGeneration++;
  }

  /** The {@code rtcache_*} functions ({@link Route}) over this table. */
  public Rtcache rtcache() {
    return rtcache;
  }

  /** {@code rt_init}: call from an LWP. */
  RouteTable(Machine m) {
    this.machine = m;
    this.rtPsrefClass = Psrefs.classCreate("rtentry", Ipl.IPL_SOFTNET);
    this.lookup = m.config().option(RtLookup.OPTION, RtLookup.RWLOCK);
    boolean psz = lookup == RtLookup.PSERIALIZE;
    this.snapshot = psz ? LpmTable.Snapshot.EMPTY : null;
    this.rtPsz = psz ? Pserialize.create("rtable") : null;
    this.rtFreeWq = new RtFree(m, this, rtPsz);
  }

  /**
   * {@code rtrequest(RTM_ADD, dst, gateway, netmask, flags)} as {@code route add} issues it: no
   * interface address is given, so {@code rt_getifa} finds it ({@link #ifaIfwithroute}); none
   * is ENETUNREACH ("Network is unreachable"). With {@link Rtentry#RTF_GATEWAY} {@code gateway}
   * is the next hop; without, it names the interface by one of its addresses ({@code route add
   * -interface}); 0 means "none" (rt_getifa then uses {@code dst}). Returns 0, EEXIST if the
   * prefix is taken, EINVAL for a bad prefix, ENETUNREACH. May sleep.
   */
  public int rtrequestAdd(int dst, int prefixlen, int gateway, int flags) {
    return rtrequest1Add(dst, prefixlen, gateway, flags, null);
  }

  /**
   * {@code rtinit(ifa, RTM_ADD, flags)}: RTM_ADD with {@code rti_ifa} given (the connected and
   * local routes of an address). Same results as {@link #rtrequestAdd(int, int, int, int)}.
   */
  int rtrequestAdd(int dst, int prefixlen, int gateway, int flags, Ifaddr ifa) {
    checkArgument(ifa != null, "rtinit needs an ifaddr");
    return rtrequest1Add(dst, prefixlen, gateway, flags, ifa);
  }

  /**
   * {@code rtrequest1(RTM_ADD)}: {@code rt_getifa} unless {@code rtiIfa} is given, then the new
   * rtentry holds an {@code ifa_refcnt} (ifaref) on its ifaddr. The ifaddr lookup and the
   * ifaref happen under rt_lock (writer) and ifaRefLock; an ifaddr already IFA_DESTROYING is
   * refused with ENETUNREACH (InAddrs I3), so no route is added to an address in_purgeaddr has
   * begun to remove.
   */
  private int rtrequest1Add(int dst, int prefixlen, int gateway, int flags, Ifaddr rtiIfa) {
    if (prefixlen < 0 || prefixlen > 32) {
      return Inet.EINVAL;
    }
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_WRITER);
    try {
      Ifaddr ifa = rtiIfa != null ? rtiIfa
          : ifaIfwithroute(flags, dst, gateway != 0 ? gateway : dst);
      if (ifa == null) {
        return Inet.ENETUNREACH;
      }
      ifaRefLock.enter();
      try {
        if ((ifa.flags & Ifaddr.IFA_DESTROYING) != 0) {
          return Inet.ENETUNREACH;
        }
        Rtentry rt = new Rtentry(dst & Inet.mask(prefixlen), prefixlen, gateway,
            flags | Rtentry.RTF_UP, ifa, ifa.ifp);
        Psrefs.targetInit(rt.rtPsref, rtPsrefClass);
        if (!table.add(rt)) {
          return Inet.EEXIST;
        }
        republish(prefixlen);
        ifa.ref();
        rtcacheInvalidate();
        return 0;
      } finally {
        ifaRefLock.exit();
      }
    } finally {
      rtLock.exit();
      Kern.splx(s);
    }
  }

  /**
   * {@code ifa_ifwithroute(flags, dst, gateway)} (route.c, NetBSD 7): for an interface route
   * ({@code !RTF_GATEWAY}) the interface that has the address {@code gateway}; then the most
   * specific connected subnet that contains {@code gateway} ({@code ifa_ifwithnet}); failing
   * both, the ifaddr of the route that {@code dst} already takes ({@code rtalloc1(dst, 0)}).
   * No point-to-point interfaces here, so {@code ifa_ifwithdstaddr} never matches. Caller holds
   * rt_lock; the result carries no reference (see {@link #rtrequest1Add}).
   */
  private Ifaddr ifaIfwithroute(int flags, int dst, int gateway) {
    Ifaddr ifa = null;
    if ((flags & Rtentry.RTF_GATEWAY) == 0) {
      ifa = addrs.ifaIfwithaddr(gateway);
    }
    if (ifa == null) {
      ifa = addrs.ifaIfwithnet(gateway);
    }
    if (ifa == null) {
      Rtentry rt = table.match(dst);
      if (rt == null) {
        return null;
      }
      ifa = rt.rtIfa;
    }
    return ifa;
  }

  /**
   * {@code rtrequest(RTM_DELETE, ...)} with {@code ret_nrt}: unlinks {@code dst/prefixlen},
   * clears RTF_UP and returns it with a reference the caller passes to {@link #rtFree}; null
   * (ESRCH) if there is no such route.
   */
  public Rtentry rtrequestDelete(int dst, int prefixlen) {
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_WRITER);
    Rtentry rt = table.remove(dst, prefixlen);
    if (rt != null) {
      unpublish(rt);
      rt.flags &= ~Rtentry.RTF_UP;
      rt.refcnt.incrementAndGet();
      rtcacheInvalidate();
    }
    rtLock.exit();
    Kern.splx(s);
    return rt;
  }

  /**
   * {@code rtinit(ifa, RTM_DELETE, flags)}: deletes and frees {@code dst/prefixlen} only if it
   * is {@code ifa}'s route ({@code rt_ifa == ifa}); 0, ESRCH if there is no such route,
   * EHOSTUNREACH (host) / ENETUNREACH (net) if it belongs to another address. May sleep.
   */
  int rtinitDelete(Ifaddr ifa, int dst, int prefixlen) {
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_WRITER);
    Rtentry rt = table.exact(dst, prefixlen);
    int error = 0;
    if (rt == null) {
      error = Inet.ESRCH;
    } else if (rt.rtIfa != ifa) {
      error = prefixlen == 32 ? Inet.EHOSTUNREACH : Inet.ENETUNREACH;
    } else {
      table.remove(dst, prefixlen);
      unpublish(rt);
      rt.flags &= ~Rtentry.RTF_UP;
      rt.refcnt.incrementAndGet();
      rtcacheInvalidate();
    }
    rtLock.exit();
    Kern.splx(s);
    if (error == 0) {
      rtFree(rt);
    }
    return error;
  }

  /** {@code rtrequest(RTM_DELETE)} + {@code rt_free}: 0 or ESRCH. May sleep. */
  public int rtDelete(int dst, int prefixlen) {
    Rtentry rt = rtrequestDelete(dst, prefixlen);
    if (rt == null) {
      return Inet.ESRCH;
    }
    rtFree(rt);
    return 0;
  }

  /**
   * {@code rtalloc1_psref(dst, psref)}: the most specific up route to {@code dst}, held by
   * {@code psref}, or null. Caller: softint, bound LWP or preemption disabled; release with
   * {@link #rtUnrefPsref}.
   */
  public Rtentry rtalloc1Psref(int dst, Psref psref) {
    if (rtPsz != null) {
      return rtalloc1PsrefPserialize(dst, psref);
    }
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_READER);
    Rtentry rt = table.match(dst);
    if (rt != null) {
      Psrefs.acquire(psref, rt.rtPsref, rtPsrefClass);
    }
    rtLock.exit();
    Kern.splx(s);
    return rt;
  }

  /**
   * {@link RtLookup#PSERIALIZE}'s lookup: in a read section, the published snapshot's most
   * specific route, its psref taken before the section ends. A route RTM_DELETE has just
   * unpublished may still be found in an older snapshot: its psref target is not draining yet,
   * because rt_free performs a pserialize barrier before psref_target_destroy.
   */
  private Rtentry rtalloc1PsrefPserialize(int dst, Psref psref) {
    int s = Pserialize.readEnter();
    // Read inside the section: a snapshot read before it could hold a route whose drain a
    // barrier that did not wait for this reader has already let start.
    Rtentry rt = snapshot.match(dst);
    if (rt != null) {
      Psrefs.acquire(psref, rt.rtPsref, rtPsrefClass);
    }
    Pserialize.readExit(s);
    return rt;
  }

  /**
   * After a change of prefix length {@code len}: publishes the table's new snapshot for the
   * lock-free readers ({@link RtLookup#PSERIALIZE}). Caller holds rt_lock as writer.
   */
  private void republish(int len) {
    LpmTable.Snapshot prev = snapshot;
    if (prev != null) {
      snapshot = table.snapshot(prev, len);
    }
  }

  /**
   * After {@code rt} left the table: publishes the snapshot without it and, with
   * {@link RtLookup#PSERIALIZE}, stamps it for rt_free's barrier check (RtFree R1). Caller holds
   * rt_lock as writer.
   */
  private void unpublish(Rtentry rt) {
    republish(rt.prefixlen);
    if (rtPsz != null) {
      rtFreeWq.stampUnlink(rt);
    }
  }

  /** Releases a route found by {@link #rtalloc1Psref} ({@code rtcache_unref}). */
  public void rtUnrefPsref(Rtentry rt, Psref psref) {
    Psrefs.release(psref, rt.rtPsref, rtPsrefClass);
  }

  /** {@code rtalloc1(dst)}: a refcounted reference (may be kept across sleeps); {@link #rtUnref}. */
  public Rtentry rtalloc1(int dst) {
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_READER);
    Rtentry rt = table.match(dst);
    if (rt != null) {
      rt.refcnt.incrementAndGet();
    }
    rtLock.exit();
    Kern.splx(s);
    return rt;
  }

  /** {@code rt_unref(rt)}. */
  public void rtUnref(Rtentry rt) {
    Kassert.kassertMsg(rt.refcnt.get() > 0, "rt->rt_refcnt > 0", FILE, 577, "refcnt=%d",
        rt.refcnt.get());
    rt.refcnt.decrementAndGet();
    if ((rt.flags & Rtentry.RTF_UP) == 0) {
      rtFreeWq.wakeRefcntWaiters();
    }
  }

  /**
   * {@code rt_free(rt)}: drops the caller's reference and frees the route once no refcount and
   * no psref is left: inline from thread context, by the rt_free thread from a softint and, with
   * {@link RtLookup#PSERIALIZE}, always (see {@link RtFree}). May sleep outside a softint.
   */
  public void rtFree(Rtentry rt) {
    rtFreeWq.free(rt);
  }

  /**
   * {@code workqueue_wait} on the rt_free workqueue: waits until every route handed to it before
   * the call has been freed (its psref target destroyed). Thread context; may sleep.
   */
  void rtFreeDrain() {
    rtFreeWq.drain();
  }

  /**
   * The pserialize barriers rt_free has begun before its drains ({@link RtLookup#PSERIALIZE}:
   * fewer than the routes destroyed when the rt_free thread batches; 0 with RWLOCK).
   */
  public long rtFreeBarriers() {
    return rtFreeWq.barriers();
  }

  /**
   * {@code rt_delete_matched_entries(family, f, v)}: deletes and frees ({@link #rtFree}) every
   * route {@code f} matches, one at a time: find one under RT_RLOCK, drop the lock, RTM_DELETE
   * it. ESRCH means someone deleted it already. Thread context; may sleep.
   */
  void rtDeleteMatchedEntries(Predicate<Rtentry> f) {
    for (;;) {
      Rtentry found = null;
      int s = Kern.splsoftnet();
      rtLock.enter(KRwlock.RW_READER);
      for (Rtentry r : table.all()) {
        if (f.test(r)) {
          found = r;
          break;
        }
      }
      rtLock.exit();
      Kern.splx(s);
      if (found == null) {
        return;
      }
      Rtentry retrt = rtrequestDelete(found.dst, found.prefixlen);
      if (retrt != null) {
        rtFree(retrt);
      }
    }
  }

  /** The route for exactly {@code dst/prefixlen} (RT_RLOCK held briefly), for tests/ps. */
  public Rtentry lookupExact(int dst, int prefixlen) {
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_READER);
    Rtentry rt = table.exact(dst, prefixlen);
    rtLock.exit();
    Kern.splx(s);
    return rt;
  }

  /** {@code netstat -rn}: every route, most specific first. */
  public List<Rtentry> routes() {
    int s = Kern.splsoftnet();
    rtLock.enter(KRwlock.RW_READER);
    List<Rtentry> all = table.all();
    rtLock.exit();
    Kern.splx(s);
    return all;
  }

  public int size() {
    return table.size();
  }

  /** Routes destroyed (psref drained and freed) so far. */
  public long destroys() {
    return rtDestroys.get();
  }
}
