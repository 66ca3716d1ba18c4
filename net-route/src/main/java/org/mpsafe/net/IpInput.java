package org.mpsafe.net;

import java.util.concurrent.atomic.LongAdder;
import org.jctools.queues.MpscArrayQueue;
import org.jctools.queues.SpmcArrayQueue;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.EvCnt;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.PerCpu;
import org.mpsafe.kern.Softint;
import org.mpsafe.psref.Psref;

/**
 * IP input and forwarding ({@code ip_input.c}: {@code ipintr}, {@code ip_forward}): a per-CPU
 * softint at IPL_SOFTNET drains its CPU's input queue and forwards each packet holding psrefs on
 * the route and on the route's ifaddr.
 *
 * <pre>
 * Implementation notes
 *
 * Queues: per CPU a bounded lock-free ring (JCTools MpscArrayQueue) in the role of
 * pktqueue/pcq(9): NICs produce, the CPU's softint is the single consumer; an SpmcArrayQueue
 * returns processed packets to the producers (no allocation per packet).
 *
 * Counters. What the softint counts (total, forward, noroute ...) is counted in per-CPU EvCnts
 * by the CPU that runs it, once per batch: EvCnt's rule is that only the CPU itself adds to
 * its slot. What the device side counts — a packet dropped because CPU n's queue was full or
 * congested — is counted by host threads that hold no virtual CPU, several of which may feed
 * one queue (NetStack.input is callable from any thread), so those counts are LongAdders: one
 * per input queue (ipstat's qdrops, pktq's PQCNT_DROP) and one per receiving interface
 * (ifq_drops). NetBSD counts these in interrupt context on the CPU that owns the queue; here the
 * "interrupt" runs outside the machine, so an atomic add takes the place of CPU ownership.
 *
 * Per packet, in the softint (so CPU-local psrefs are legal): rtalloc1_psref (rt_lock as
 * reader, LPM, psref on the rtentry), ia4_acquire on rt_ifa (psref on the ifaddr), the checks,
 * "transmit" (count on the output ifnet), release both. The ifaddr psref is safe to take for
 * the address's own routes: its ifaddr is destroyed only after they were deleted and drained
 * (with RtLookup.PSERIALIZE by the rt_free thread, which in_purgeaddr waits for: RtFree R2),
 * and we hold the route. A route through the address from elsewhere (a static route) can
 * outlive it; for those ip_output's ifa_is_destroying check (IFA_DESTROYING) comes first.
 *
 * Route cache (boot option IpforwardRtcache.OPTION). NONE, the default: the route is looked up
 * in the table for every packet (rtalloc1_psref, rtUnrefPsref), as in PR kern/51632's kernel.
 * SHARED: one struct route ipforward_rt for every CPU, as ip_input.c 1.324 declares it
 * ("static struct route ipforward_rt"), with route.c 1.207's psref-based rtcache. PERCPU:
 * ipforward_rt_percpu (ip_input.c 1.383): ip_forward takes its CPU's struct route with
 * percpu_getref and gives it back with percpu_putref after the packet. The rtcache reference
 * is held from rtcache_lookup until the packet is "transmitted"; NetBSD's ip_forward drops it
 * before ip_output, which takes its own through rtcache_validate(ro) on the same struct route
 * and holds it across the transmit. The port folds the two into one reference over the same
 * span of code, and uses the route lookup also for the "ours" check (as for NONE).
 *
 * Local delivery. With softnet_lock on (NetStack's SoftnetLock option) the protocol input of a
 * packet for one of our addresses runs under it, as ip_input.c 1.324 calls pr_input between
 * SOFTNET_LOCK and SOFTNET_UNLOCK; the softint holds the psref of the local route it found
 * while it waits for the lock (the model keeps the route until the packet is done; where
 * NetBSD's ip_input of the psref era let go of its references before pr_input is not ported).
 * A thread that drains that route's psref with softnet_lock held therefore never finishes.
 *
 * Batches: at most BATCH packets per run; if more remain the softint schedules itself again,
 * so a long queue does not hold the CPU against higher-priority softints (each handler return
 * is a preemption point).
 * </pre>
 */
public final class IpInput {
  static final int BATCH = 256;
  /** A NIC holds its interrupt while its CPU's queue is above this (see {@link #congested}). */
  private final int highWater;
  private static final String IP_FORWARD_EXPR = "cpu_softintr_p()";

  private final NetStack net;
  final MpscArrayQueue<Packet>[] inq;
  final SpmcArrayQueue<Packet>[] freeq;
  final Softint.Handle ipintrSih;
  private final Psref[] rtPsrefs;
  private final Psref[] ifaPsrefs;
  final EvCnt total;
  final EvCnt forwarded;
  final EvCnt delivered;
  final EvCnt noroute;
  final EvCnt cantforward;
  final EvCnt timeexceeded;
  /** Drops at CPU n's input queue (device side, any thread). */
  private final LongAdder[] qdrops;
  volatile boolean forwarding = true;
  /** The route cache ip_forward uses (boot option {@link IpforwardRtcache#OPTION}). */
  private final IpforwardRtcache rtcacheMode;
  /** {@code ipforward_rt} (SHARED only). */
  private final Route ipforwardRt;
  /** {@code ipforward_rt_percpu} (PERCPU only). */
  private final PerCpu<Route> ipforwardRtPercpu;

  @SuppressWarnings("unchecked")
  IpInput(NetStack net, int queueLen) {
    this.net = net;
    this.highWater = queueLen / 2;
    Machine m = net.machine;
    int n = m.ncpu();
    inq = new MpscArrayQueue[n];
    freeq = new SpmcArrayQueue[n];
    rtPsrefs = new Psref[n];
    ifaPsrefs = new Psref[n];
    for (int i = 0; i < n; i++) {
      inq[i] = new MpscArrayQueue<>(queueLen);
      freeq[i] = new SpmcArrayQueue<>(queueLen);
      for (int k = 0; k < queueLen; k++) {
        freeq[i].offer(new Packet());
      }
      rtPsrefs[i] = new Psref();
      ifaPsrefs[i] = new Psref();
    }
    total = new EvCnt(m, "ip", "total");
    forwarded = new EvCnt(m, "ip", "forward");
    delivered = new EvCnt(m, "ip", "delivered");
    noroute = new EvCnt(m, "ip", "noroute");
    cantforward = new EvCnt(m, "ip", "cantforward");
    timeexceeded = new EvCnt(m, "ip", "timeexceeded");
    qdrops = new LongAdder[n];
    for (int i = 0; i < n; i++) {
      qdrops[i] = new LongAdder();
    }
    rtcacheMode = m.config().option(IpforwardRtcache.OPTION, IpforwardRtcache.NONE);
    ipforwardRt = rtcacheMode == IpforwardRtcache.SHARED ? new Route() : null;
    ipforwardRtPercpu = rtcacheMode == IpforwardRtcache.PERCPU
        ? PerCpu.alloc(m, i -> new Route()) : null;
    ipintrSih = m.softint().establish(Softint.SOFTINT_NET, this::ipintr, "ipintr");
  }

  /**
   * A NIC hands CPU {@code ci} a packet for {@code dst} received on {@code rcvif}: queue it
   * (or count a drop) — the caller raises the softint ({@link #kick}). Any thread.
   */
  boolean enqueue(Cpu ci, Ifnet rcvif, int src, int dst, int ttl) {
    int i = ci.index();
    Packet p = freeq[i].poll();
    if (p == null) {
      drop(ci, rcvif, 1);
      return false;
    }
    p.src = src;
    p.dst = dst;
    p.ttl = ttl;
    p.rcvif = rcvif;
    if (!inq[i].offer(p)) {
      freeq[i].offer(p);
      drop(ci, rcvif, 1);
      return false;
    }
    return true;
  }

  /** Counts {@code n} packets for CPU {@code ci} received on {@code rcvif} and dropped. Any thread. */
  void drop(Cpu ci, Ifnet rcvif, long n) {
    qdrops[ci.index()].add(n);
    rcvif.iqdrops.add(n);
  }

  /**
   * True while CPU {@code ci}'s input queue is more than half full: a NIC then drops at the
   * ring and raises no interrupt (interrupt moderation), so that softnet finds its queue empty
   * now and then and the CPU's threads — xcall/N among them — get to run; without it a
   * saturated queue is a receive livelock that starves everything below softint priority.
   */
  boolean congested(Cpu ci) {
    return inq[ci.index()].size() > highWater;
  }

  /** The receive interrupt: schedule {@code ipintr} on {@code ci}. */
  void kick(Cpu ci) {
    net.machine.softint().scheduleCpu(ipintrSih, ci);
  }

  /** {@code ipintr}: the IPL_SOFTNET softint of this CPU. */
  private void ipintr() {
    Lwp l = Lwp.current();
    Cpu c = l.cpu();
    int i = c.index();
    MpscArrayQueue<Packet> q = inq[i];
    SpmcArrayQueue<Packet> free = freeq[i];
    Psref rtRef = rtPsrefs[i];
    Psref ifaRef = ifaPsrefs[i];
    long[] st = new long[6];
    int n = 0;
    boolean locked = net.softnetMode.ipintrLocked();
    if (locked) {
      net.softnetLock.enter();   // without NET_MPSAFE (ip_input.c 1.324 ipintr)
    }
    for (Packet p; n < BATCH && (p = q.relaxedPoll()) != null; n++) {
      ipForward(p, c, rtRef, ifaRef, st);
      p.rcvif = null;
      free.offer(p);
    }
    if (locked) {
      net.softnetLock.exit();
    }
    total.add(c, n);
    forwarded.add(c, st[0]);
    noroute.add(c, st[1]);
    cantforward.add(c, st[2]);
    timeexceeded.add(c, st[3]);
    delivered.add(c, st[4]);
    if (!q.isEmpty()) {
      net.machine.softint().scheduleCpu(ipintrSih, c);
    }
  }

  /**
   * {@code ip_input}'s "ours" check + {@code ip_forward}: in the softint; {@code st} =
   * forwarded, noroute, cantforward, ttl, local.
   *
   * <p>Order as in NetBSD: a packet for one of our addresses (its RTF_LOCAL route) is delivered
   * whatever its TTL and the forwarding switch — ip_input goes to "ours" before it looks at
   * ipforwarding, and only ip_forward checks the TTL; so a local packet with TTL 1, or with
   * forwarding off, is delivered.
   */
  void ipForward(Packet p, Cpu c, Psref rtRef, Psref ifaRef, long[] st) {
    Kassert.kassertMsg(Kern.cpuSoftintrP(), IP_FORWARD_EXPR, "sys/netinet/ip_input.c", 1277,
        "ip_forward: not in the software interrupt handler; synchronization assumptions "
            + "violated");
    switch (rtcacheMode) {
      case NONE -> forward(p, c, rtRef, null, ifaRef, st);
      case SHARED -> forward(p, c, null, ipforwardRt, ifaRef, st);
      case PERCPU -> {
        Route ro = ipforwardRtPercpu.getref();
        forward(p, c, null, ro, ifaRef, st);
        ipforwardRtPercpu.putref();
      }
      default -> throw new IllegalStateException(rtcacheMode.toString());
    }
  }

  /**
   * The body of {@link #ipForward}: the route comes from the table through {@code rtRef}
   * ({@code ro == null}) or from the route cache {@code ro}.
   */
  private void forward(Packet p, Cpu c, Psref rtRef, Route ro, Psref ifaRef, long[] st) {
    Rtentry rt = ro == null ? net.rt.rtalloc1Psref(p.dst, rtRef)
        : net.rt.rtcache.lookup(ro, p.dst);
    if (rt != null && (rt.flags & Rtentry.RTF_LOCAL) != 0) {
      st[4]++;
      if (net.softnetMode.localDeliveryLocked()) {
        // ip_input: SOFTNET_LOCK(); (*inetsw[ip_protox[nh]].pr_input)(m, off, nh);
        // SOFTNET_UNLOCK(); — with the route's psref still held (see the notes).
        net.softnetLock.enter();
        net.softnetLock.exit();
      }
      unref(rt, rtRef, ro);
      return;
    }
    if (!forwarding || p.ttl <= 1 || rt == null) {
      if (!forwarding) {
        st[2]++;                  // ips_cantforward
      } else if (p.ttl <= 1) {
        st[3]++;                  // ICMP_TIMXCEED
      } else {
        st[1]++;                  // ips_noroute
      }
      if (rt != null) {
        unref(rt, rtRef, ro);
      }
      return;
    }
    Ifaddr ia = rt.rtIfa;
    // ip_output: "if (ifa_is_destroying(rt->rt_ifa)) ... IP_STAT_NOROUTE" before ifa_acquire.
    // A route other than the address's own (a static route through it) outlives in_purgeaddr,
    // and its rt_ifa's psref target is destroyed: acquiring it would trip psref_acquire's class
    // KASSERT. Reading the flag without the lock is
    // safe: in_purgeaddr sets it before deleting the local route, whose drain is an xcall round
    // on every CPU, so by ifa_remove every softint that missed the flag holds its psref already.
    if ((ia.flags & Ifaddr.IFA_DESTROYING) != 0) {
      st[1]++;
      unref(rt, rtRef, ro);
      return;
    }
    net.addrs.ifaAcquire(ia, ifaRef);
    Ifnet ifp = rt.rtIfp;
    if (!ifp.up || ifp.detached) {
      st[2]++;
    } else {
      ifp.opackets.add(c, 1);
      st[0]++;
    }
    net.addrs.ifaRelease(ia, ifaRef);
    unref(rt, rtRef, ro);
  }

  /** {@code rtcache_unref(rt, ro)}, or the release of {@code rtalloc1_psref}'s reference. */
  private void unref(Rtentry rt, Psref rtRef, Route ro) {
    if (ro == null) {
      net.rt.rtUnrefPsref(rt, rtRef);
    } else {
      net.rt.rtcache.unref(rt, ro);
    }
  }

  private long qdropsTotal() {
    long sum = 0;
    for (LongAdder a : qdrops) {
      sum += a.sum();
    }
    return sum;
  }

  IpStat stat() {
    return new IpStat(total.value(), forwarded.value(), delivered.value(), noroute.value(),
        cantforward.value(), timeexceeded.value(), qdropsTotal());
  }
}
