package org.mpsafe.net;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.collect.ImmutableList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.psref.Pserialize;
import org.mpsafe.psref.Psref;
import org.mpsafe.psref.PsrefClass;
import org.mpsafe.psref.Psrefs;

/**
 * IPv4 addresses ({@code sys/netinet/in.c} and the ifaddr parts of {@code sys/net/if.c}):
 * the address list read under pserialize, {@code in_control(SIOCAIFADDR/SIOCDIFADDR)},
 * {@code in_purgeaddr}, {@code ifa_remove}, {@code ifa_acquire/release}.
 *
 * <pre>
 * Implementation notes
 *
 * The list (IN_ADDRLIST, a pslist in NetBSD) is an immutable array published through a volatile
 * field: readers walk it inside pserialize_read_enter/exit and take a psref on what they find;
 * writers build a new array under in_ifaddr_lock. Removal: unpublish, pserialize_perform (no
 * reader can still be looking at the old entry), psref_target_destroy (no holder left),
 * ifafree — the order of NetBSD's ifa_remove, which runs with in_ifaddr_lock held.
 *
 * in_purgeaddr (SIOCDIFADDR) runs in the calling LWP, bound with curlwp_bind: it deletes the
 * connected route and the local route (each rt_free drains the rtentry's psref with a
 * low-priority xcall) and then the ifaddr (another drain). Two LWPs deleting addresses on two
 * interfaces therefore destroy rtentries and ifaddrs in parallel: PR kern/51632's trigger.
 * With RtLookup.PSERIALIZE the routes' frees go to the rt_free thread instead, and
 * in_purgeaddr waits for it before ifa_remove (RtFree R2): then only the ifaddr drains run in
 * the deleting LWPs.
 * Per-interface ioctl lock (IFNET_LOCK) serialises in_control on one interface, as NetBSD
 * requires ("in_purgeaddr must not run concurrently").
 *
 * Invariants
 *   I1  The addresses of an interface change only under its ioctl lock: in_control (add, mask
 *       change, delete) and if_detach hold it. So in_control's lookup of "this address on this
 *       interface" (NetBSD 7 in.c 1.161 in_control: the IN_IFADDR_HASH walk that requires
 *       ia->ia_ifp == ifp) needs no other lock: nobody else can add or remove a match meanwhile.
 *   I2  An address is a duplicate only on the same interface. NetBSD 7 takes a second
 *       SIOCAIFADDR of an address the interface already has as a change of that address
 *       (hostIsNew = 0): it scrubs the connected route, applies the new mask and runs in_ifinit
 *       again, and returns 0. The same address on another interface is a separate ifaddr
 *       (in_ifremlocal's alt_ifa case); the local /32 route then belongs to one of them.
 *   I3  IFA_ROUTE and IFA_DESTROYING are written under in_ifaddr_lock; IFA_DESTROYING also
 *       under RouteTable.ifaRefLock, so a route add that finds the flag clear under ifaRefLock
 *       may take its ifa_refcnt (ifaref's KASSERT holds).
 *   I4  in_control on a detached interface returns ENXIO (NetBSD 7 if.c 1.318 doifioctl:
 *       ifunit() skips an interface whose if_output is if_nulloutput, "if (ifp == NULL) return
 *       ENXIO"; a caller that found the ifnet before if_detach enters its ifnet lock and calls
 *       if_nullioctl, which returns ENXIO before pr_ioctl — in_control — runs).
 *
 * Differences: in_scrubprefix's hand-over of a connected route to another address with the
 * same prefix is not ported (the route goes with its address). NetBSD 7 makes that hand-over
 * under the big kernel lock; here in_control runs in parallel on different interfaces, and
 * moving IFA_ROUTE between two interfaces' addresses would race with the other interface's
 * in_control. in_addprefix's rule is ported, except that an owner already IFA_DESTROYING does
 * not count (its route is about to go, and nobody would hand it over). in_ifremlocal's
 * hand-over of the local route (rt_ifa_remlocal with alt_ifa) is ported as delete + add for
 * alt_ifa instead of rt_replace_ifa: Rtentry.rt_ifa is final because the forwarding path reads
 * it without a lock.
 * </pre>
 */
public final class InAddrs {
  final NetStack net;
  /** {@code in_ifaddr_lock}. */
  final KMutex inIfaddrLock = new KMutex("in_ifaddr");
  /** {@code ifa_psref_class} ("ifa", IPL_SOFTNET). */
  final PsrefClass ifaPsrefClass;
  /** {@code ifnet_psz}. */
  final Pserialize ifnetPsz = Pserialize.create("ifnet");
  private volatile Ifaddr[] list = new Ifaddr[0];
  final AtomicLong added = new AtomicLong();
  final AtomicLong deleted = new AtomicLong();
  final AtomicLong ifaDestroys = new AtomicLong();

  InAddrs(NetStack net) {
    this.net = net;
    this.ifaPsrefClass = Psrefs.classCreate("ifa", Ipl.IPL_SOFTNET);
  }

  /**
   * {@code in_control(so, cmd, ifr, ifp)}: {@link Inet#SIOCAIFADDR} adds {@code addr/prefixlen}
   * to {@code ifp} with its connected and local routes (an address {@code ifp} already has gets
   * the new prefix length, invariant I2), {@link Inet#SIOCDIFADDR} deletes it. Returns 0 or
   * ENXIO (detached interface, I4), EADDRNOTAVAIL, EINVAL. May sleep; thread context only.
   */
  public int inControl(Ifnet ifp, int cmd, int addr, int prefixlen) {
    checkArgument(ifp != null, "in_control needs an interface");
    AddressChangeEvent ev = new AddressChangeEvent();
    ev.begin();
    int bound = Kern.curlwpBind();
    ifp.ioctlLock.enter();
    int e;
    try {
      if (ifp.detached) {
        e = Inet.ENXIO;                    // I4: if_nullioctl

      } else if (cmd == Inet.SIOCAIFADDR) {
        e = addAddr(ifp, addr, prefixlen);
      } else if (cmd == Inet.SIOCDIFADDR) {
        e = deleteAddr(ifp, addr);
      } else {
        e = Inet.EINVAL;
      }
    } finally {
      ifp.ioctlLock.exit();
      Kern.curlwpBindx(bound);
    }
    ev.end();
    if (ev.shouldCommit()) {
      ev.ifp = ifp.name;
      ev.addr = Inet.format(addr, prefixlen);
      ev.op = cmd == Inet.SIOCAIFADDR ? "add" : cmd == Inet.SIOCDIFADDR ? "delete" : "?";
      ev.errno = e;
      ev.commit();
    }
    return e;
  }

  private int addAddr(Ifnet ifp, int addr, int prefixlen) {
    if (prefixlen < 1 || prefixlen > 32 || addr == 0) {
      return Inet.EINVAL;
    }
    Ifaddr old = lookupOnIfp(ifp, addr);
    if (old != null) {
      return changePrefix(old, prefixlen);
    }
    Ifaddr ia = new Ifaddr(addr, prefixlen, ifp);
    Psrefs.targetInit(ia.ifaPsref, ifaPsrefClass);
    ia.refcnt = 1;
    // in_ifinit: in_ifaddlocal, then in_addprefix.
    addLocal(ia);
    addPrefix(ia);
    inIfaddrLock.enter();
    Ifaddr[] l = Arrays.copyOf(list, list.length + 1);
    l[l.length - 1] = ia;
    list = l;
    inIfaddrLock.exit();
    added.incrementAndGet();
    return 0;
  }

  /**
   * The address {@code addr} of {@code ifp}, or null: in_control's IN_IFADDR_HASH walk with
   * {@code ia->ia_ifp == ifp}. Caller holds {@code ifp}'s ioctl lock (I1).
   */
  private Ifaddr lookupOnIfp(Ifnet ifp, int addr) {
    assert ifp.ioctlLock.owned();
    for (Ifaddr ia : list) {
      if (ia.ifp == ifp && ia.addr == addr) {
        return ia;
      }
    }
    return null;
  }

  /**
   * SIOCAIFADDR of an address the interface has (hostIsNew = 0, maskIsNew): in_ifscrub, the new
   * mask, in_ifinit — the connected route is deleted (destroyed through psref) and installed
   * again with the new length. The local route stays.
   */
  private int changePrefix(Ifaddr ia, int prefixlen) {
    if ((ia.flags & Ifaddr.IFA_ROUTE) != 0) {
      net.rt.rtinitDelete(ia, ia.addr, ia.prefixlen);
      inIfaddrLock.enter();
      ia.flags &= ~Ifaddr.IFA_ROUTE;
      inIfaddrLock.exit();
    }
    inIfaddrLock.enter();
    ia.prefixlen = prefixlen;
    inIfaddrLock.exit();
    addLocal(ia);
    addPrefix(ia);
    return 0;
  }

  /** {@code in_ifaddlocal} / {@code rt_ifa_addlocal}: the local host route, if none exists. */
  private void addLocal(Ifaddr ia) {
    net.rt.rtrequestAdd(ia.addr, 32, 0, Rtentry.RTF_HOST | Rtentry.RTF_LOCAL, ia);
  }

  /**
   * {@code in_addprefix}: the connected route, unless another address with the same prefix
   * (its address under its own mask) owns one (IFA_ROUTE); EEXIST is not an error.
   */
  private void addPrefix(Ifaddr target) {
    int prefix = target.addr & Inet.mask(target.prefixlen);
    inIfaddrLock.enter();
    try {
      for (Ifaddr ia : list) {
        if (ia != target && (ia.addr & Inet.mask(ia.prefixlen)) == prefix
            && (ia.flags & (Ifaddr.IFA_ROUTE | Ifaddr.IFA_DESTROYING)) == Ifaddr.IFA_ROUTE) {
          return;
        }
      }
      if (net.rt.rtrequestAdd(target.addr, target.prefixlen, 0, Rtentry.RTF_CONNECTED, target)
          == 0) {
        target.flags |= Ifaddr.IFA_ROUTE;
      }
    } finally {
      inIfaddrLock.exit();
    }
  }

  private int deleteAddr(Ifnet ifp, int addr) {
    Psref psref = new Psref();
    int s = Pserialize.readEnter();
    Ifaddr ia = null;
    for (Ifaddr x : list) {
      if (x.ifp == ifp && x.addr == addr) {
        ia = x;
        ifaAcquire(x, psref);
        break;
      }
    }
    Pserialize.readExit(s);
    if (ia == null) {
      return Inet.EADDRNOTAVAIL;
    }
    // Drop our own reference first, or the drain below would wait for us forever.
    ifaRelease(ia, psref);
    inPurgeaddr(ia);
    return 0;
  }

  /** {@code in_purgeaddr(ifa)}: routes first, then the address. Caller holds the ioctl lock. */
  void inPurgeaddr(Ifaddr ia) {
    inIfaddrLock.enter();
    net.rt.ifaRefLock.enter();
    ia.flags |= Ifaddr.IFA_DESTROYING;       // I3
    net.rt.ifaRefLock.exit();
    inIfaddrLock.exit();
    // in_scrubprefix / in_ifremlocal delete through rtinit(RTM_DELETE), which removes a route
    // only if it is this address's (rt_ifa == ifa).
    if ((ia.flags & Ifaddr.IFA_ROUTE) != 0) {
      net.rt.rtinitDelete(ia, ia.addr, ia.prefixlen);
    }
    if (net.rt.rtinitDelete(ia, ia.addr, 32) == 0) {
      remLocalHandOver(ia);
    }
    // With RtLookup.PSERIALIZE the routes just deleted (and any other through ia) may still be
    // queued for the rt_free thread; ifa_remove must not start before they are freed (RtFree R2).
    net.rt.rtFreeWq.waitFor(ia);
    inIfaddrLock.enter();
    List<Ifaddr> l = new ArrayList<>(Arrays.asList(list));
    l.remove(ia);
    list = l.toArray(new Ifaddr[0]);
    ifaRemove(ia);
    inIfaddrLock.exit();
    net.rt.ifaRefLock.enter();
    ia.free();
    net.rt.ifaRefLock.exit();
    deleted.incrementAndGet();
  }

  /**
   * {@code in_ifremlocal}'s alt_ifa: the same address on another interface keeps a local route
   * (I2). Under in_ifaddr_lock, so the chosen address cannot start its own purge meanwhile (I3).
   */
  private void remLocalHandOver(Ifaddr gone) {
    inIfaddrLock.enter();
    try {
      for (Ifaddr alt : list) {
        if (alt != gone && alt.addr == gone.addr && alt.ifp != gone.ifp
            && (alt.flags & Ifaddr.IFA_DESTROYING) == 0) {
          addLocal(alt);
          return;
        }
      }
    } finally {
      inIfaddrLock.exit();
    }
  }

  /** {@code ifa_remove}: wait out readers, then holders. */
  private void ifaRemove(Ifaddr ia) {
    Kassert.kassert(inIfaddrLock.owned(), "mutex_owned(&in_ifaddr_lock)", "sys/net/if.c", 1815);
    Kassert.kassertMsg(!net.rt.rtFreeWq.pendingThrough(ia), "!rt_free_pending(ifa)",
        RtFree.NOTES, 0, "R2: ifa_remove of %s while a route through it waits for rt_free", ia);
    ifnetPsz.perform();
    Psrefs.targetDestroy(ia.ifaPsref, ifaPsrefClass);
    ifaDestroys.incrementAndGet();
  }

  /** {@code ifa_acquire(ifa, psref)}. */
  public void ifaAcquire(Ifaddr ia, Psref psref) {
    Psrefs.acquire(psref, ia.ifaPsref, ifaPsrefClass);
  }

  /** {@code ifa_release(ifa, psref)}: no-op for null. */
  public void ifaRelease(Ifaddr ia, Psref psref) {
    if (ia != null) {
      Psrefs.release(psref, ia.ifaPsref, ifaPsrefClass);
    }
  }

  /**
   * {@code ifa_ifwithaddr_psref(addr, psref)}: the address {@code addr}, held by {@code psref},
   * or null. Caller bound (or softint).
   */
  public Ifaddr ifaIfwithaddrPsref(int addr, Psref psref) {
    int s = Pserialize.readEnter();
    try {
      for (Ifaddr ia : list) {
        if (ia.addr == addr && !ia.ifp.detached) {
          ifaAcquire(ia, psref);
          return ia;
        }
      }
      return null;
    } finally {
      Pserialize.readExit(s);
    }
  }

  /**
   * {@code ifa_ifwithaddr(addr)}: an address {@code addr} of an attached interface, or null. No
   * reference is taken: the caller validates the result under RouteTable.ifaRefLock (I3).
   * Addresses already IFA_DESTROYING are skipped.
   */
  Ifaddr ifaIfwithaddr(int addr) {
    for (Ifaddr ia : list) {
      if (ia.addr == addr && !ia.ifp.detached && (ia.flags & Ifaddr.IFA_DESTROYING) == 0) {
        return ia;
      }
    }
    return null;
  }

  /**
   * {@code ifa_ifwithnet(addr)}: the address of an attached interface whose subnet contains
   * {@code addr}, the most specific if several ({@code rn_refines}), or null. No reference is
   * taken (as {@link #ifaIfwithaddr}).
   */
  Ifaddr ifaIfwithnet(int addr) {
    Ifaddr best = null;
    for (Ifaddr ia : list) {
      int len = ia.prefixlen;
      if (!ia.ifp.detached && (ia.flags & Ifaddr.IFA_DESTROYING) == 0
          && ((addr ^ ia.addr) & Inet.mask(len)) == 0
          && (best == null || len > best.prefixlen)) {
        best = ia;
      }
    }
    return best;
  }

  /** The addresses of {@code ifp} (all addresses for null; {@code ifconfig}): an immutable snapshot. */
  public ImmutableList<Ifaddr> addresses(Ifnet ifp) {
    ImmutableList.Builder<Ifaddr> out = ImmutableList.builder();
    for (Ifaddr ia : list) {
      if (ifp == null || ia.ifp == ifp) {
        out.add(ia);
      }
    }
    return out.build();
  }

  public long added() {
    return added.get();
  }

  public long deleted() {
    return deleted.get();
  }

  /** ifaddrs whose psref target was destroyed. */
  public long destroys() {
    return ifaDestroys.get();
  }
}
