package org.mpsafe.net;

import java.util.concurrent.atomic.AtomicInteger;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.KObject;
import org.mpsafe.kern.Kassert;
import org.mpsafe.psref.PsrefTarget;

/**
 * {@code struct rtentry}: a route. Found by longest-prefix match under {@code rt_lock}; the
 * forwarding path holds it by psref ({@code rt_psref}); table users that may sleep hold it by
 * {@code rt_refcnt}. Deleted with {@code rtrequest(RTM_DELETE)} and then {@code rt_free}, which
 * waits for both kinds of reference and frees (poisons) it.
 */
public final class Rtentry implements KObject {
  public static final int RTF_UP = 0x1;
  public static final int RTF_GATEWAY = 0x2;
  public static final int RTF_HOST = 0x4;
  public static final int RTF_DONE = 0x40;
  public static final int RTF_STATIC = 0x800;
  public static final int RTF_LOCAL = 0x200000;
  public static final int RTF_CONNECTED = 0x400000;

  private final long kaddr = Kaddr.alloc();
  final int dst;
  final int prefixlen;
  final int gateway;
  /** Written under rt_lock (write): RTF_UP cleared on delete. */
  volatile int flags;
  final Ifaddr rtIfa;
  final Ifnet rtIfp;
  final PsrefTarget rtPsref = new PsrefTarget(this);
  /** {@code rt_refcnt} (atomic in NetBSD). */
  final AtomicInteger refcnt = new AtomicInteger();
  /**
   * {@link RtLookup#PSERIALIZE}: the rt_free barriers begun when RTM_DELETE unpublished this
   * route (RtFree R1). Written once under rt_lock (writer) by the deleter; read by whoever
   * frees the route, after rt_free handed it over.
   */
  long unlinkPsz;
  private volatile boolean freed;

  Rtentry(int dst, int prefixlen, int gateway, int flags, Ifaddr ifa, Ifnet ifp) {
    this.dst = dst;
    this.prefixlen = prefixlen;
    this.gateway = gateway;
    this.flags = flags;
    this.rtIfa = ifa;
    this.rtIfp = ifp;
  }

  public int dst() {
    return dst;
  }

  public int prefixlen() {
    return prefixlen;
  }

  public int gateway() {
    return gateway;
  }

  public int flags() {
    return flags;
  }

  /** {@code rt_ifa}. */
  public Ifaddr ifa() {
    checkLive();
    return rtIfa;
  }

  /** {@code rt_ifp}. */
  public Ifnet ifp() {
    checkLive();
    return rtIfp;
  }

  public PsrefTarget psrefTarget() {
    return rtPsref;
  }

  public boolean isFreed() {
    return freed;
  }

  void checkLive() {
    if (freed) {
      throw Kassert.panic("use of freed rtentry %p (%s)", this, Inet.format(dst, prefixlen));
    }
  }

  void markFreed() {
    freed = true;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return Inet.format(dst, prefixlen) + (gateway != 0 ? " gw " + Inet.format(gateway) : "")
        + " " + rtIfp;
  }
}
