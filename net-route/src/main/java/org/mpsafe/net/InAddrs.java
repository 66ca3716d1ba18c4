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
 * Per-interface ioctl lock (IFNET_LOCK) serialises in_control on one interface, as NetBSD
 * requires ("in_purgeaddr must not run concurrently").
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
   * to {@code ifp} with its connected and local routes, {@link Inet#SIOCDIFADDR} deletes it.
   * Returns 0 or EEXIST, EADDRNOTAVAIL, EINVAL. May sleep; thread context only.
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
        e = Inet.EADDRNOTAVAIL;
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
    for (Ifaddr ia : list) {
      if (ia.addr == addr) {
        return Inet.EEXIST;
      }
    }
    Ifaddr ia = new Ifaddr(addr, prefixlen, ifp);
    Psrefs.targetInit(ia.ifaPsref, ifaPsrefClass);
    ia.refcnt = 1;
    // in_ifinit: the connected (prefix) route, unless another address already owns the prefix.
    if (net.rt.rtrequestAdd(addr, prefixlen, 0, Rtentry.RTF_CONNECTED, ia) == 0) {
      ia.flags |= Ifaddr.IFA_ROUTE;
    }
    // rt_ifa_addlocal: the local host route.
    net.rt.rtrequestAdd(addr, 32, 0, Rtentry.RTF_HOST | Rtentry.RTF_LOCAL, ia);
    inIfaddrLock.enter();
    Ifaddr[] l = Arrays.copyOf(list, list.length + 1);
    l[l.length - 1] = ia;
    list = l;
    inIfaddrLock.exit();
    added.incrementAndGet();
    return 0;
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
    ia.flags |= Ifaddr.IFA_DESTROYING;
    inIfaddrLock.exit();
    // in_scrubprefix / in_ifremlocal delete through rtinit(RTM_DELETE), which removes a route
    // only if it is this address's (rt_ifa == ifa). (Fixed: the local /32 was deleted whoever
    // owned it, so deleting an address also destroyed a static host route to it through
    // another address.)
    if ((ia.flags & Ifaddr.IFA_ROUTE) != 0) {
      net.rt.rtinitDelete(ia, ia.addr, ia.prefixlen);
    }
    net.rt.rtinitDelete(ia, ia.addr, 32);
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

  /** {@code ifa_remove}: wait out readers, then holders. */
  private void ifaRemove(Ifaddr ia) {
    Kassert.kassert(inIfaddrLock.owned(), "mutex_owned(&in_ifaddr_lock)", "sys/net/if.c", 1815);
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
