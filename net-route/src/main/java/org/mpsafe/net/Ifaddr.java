package org.mpsafe.net;

import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.KObject;
import org.mpsafe.kern.Kassert;
import org.mpsafe.psref.PsrefTarget;

/**
 * {@code struct in_ifaddr} (with its {@code struct ifaddr}): an IPv4 address of an interface.
 *
 * <p>Two kinds of reference, as in NetBSD: {@code ifa_refcnt} keeps the memory for long-term
 * holders (each rtentry's {@code rt_ifa}), under the routing/address write locks; the psref
 * {@code ifa_psref} protects short-term users found through the address list or a route (the
 * forwarding path). {@code ifa_remove} destroys the psref target; the last {@code ifafree}
 * frees (poisons) the object: any later use is a panic, never a silent success.
 */
public final class Ifaddr implements KObject {
  /** {@code IFA_ROUTE}: this address installed its connected route. */
  public static final int IFA_ROUTE = 0x01;
  /** {@code IFA_DESTROYING}: in_purgeaddr has begun. */
  public static final int IFA_DESTROYING = 0x02;

  private final long kaddr = Kaddr.alloc();
  final int addr;
  /**
   * {@code ia_sockmask} as a length: changed only by in_control on {@link #ifp} (which holds its
   * ioctl lock) under in_ifaddr_lock; volatile for the lock-free readers of the address list.
   */
  volatile int prefixlen;
  final Ifnet ifp;
  final PsrefTarget ifaPsref = new PsrefTarget(this);
  /**
   * Written under in_ifaddr_lock; volatile because the forwarding softint reads IFA_DESTROYING
   * without a lock ({@code ifa_is_destroying}).
   */
  volatile int flags;
  /** {@code ifa_refcnt}: under RouteTable.ifaRefLock (NetBSD: the big network locks). */
  int refcnt;
  /**
   * {@link RtLookup#PSERIALIZE}: in_purgeaddr has waited for the rt_free queue on this address's
   * behalf; its routes are freed inline from then on (RtFree R2). Set once under
   * RtFree.rtFreeLock, read under it.
   */
  boolean rtFreeWaited;
  private volatile boolean freed;

  Ifaddr(int addr, int prefixlen, Ifnet ifp) {
    this.addr = addr;
    this.prefixlen = prefixlen;
    this.ifp = ifp;
  }

  public int addr() {
    checkLive();
    return addr;
  }

  public int prefixlen() {
    return prefixlen;
  }

  public Ifnet ifp() {
    checkLive();
    return ifp;
  }

  public PsrefTarget psrefTarget() {
    return ifaPsref;
  }

  public boolean isFreed() {
    return freed;
  }

  /** Panics on use after free (the memory would be poisoned in a DIAGNOSTIC kernel). */
  void checkLive() {
    if (freed) {
      throw Kassert.panic("use of freed ifaddr %p (%s)", this, Inet.format(addr, prefixlen));
    }
  }

  /** {@code ifaref(ifa)}. */
  void ref() {
    checkLive();
    Kassert.kassert((flags & IFA_DESTROYING) == 0, "!ISSET(ifa->ifa_flags, IFA_DESTROYING)",
        "sys/net/if.c", 1869);
    refcnt++;
  }

  /** {@code ifafree(ifa)}: frees (poisons) at the last reference. */
  void free() {
    checkLive();
    Kassert.kassert(refcnt > 0, "ifa->ifa_refcnt > 0", "sys/net/if.c", 1879);
    if (--refcnt == 0) {
      freed = true;
    }
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return Inet.format(addr, prefixlen) + " on " + ifp;
  }
}
