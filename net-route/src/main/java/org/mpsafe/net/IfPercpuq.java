package org.mpsafe.net;

import org.jctools.queues.SpscArrayQueue;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.KObject;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Softint;

/**
 * {@code struct if_percpuq} ({@code sys/net/if.c}): an interface's per-CPU input queues and the
 * softint that drains them. A NIC queues a received packet on the CPU its interrupt came in on
 * and schedules the softint there ({@code if_percpuq_enqueue}); the softint,
 * {@code if_percpuq_softint} at IPL_SOFTNET, hands each packet to IP input (ipintr's queue on
 * the same CPU, then schedules ipintr). {@code if_detach} destroys it
 * ({@code if_percpuq_destroy}): {@code softint_disestablish}, purge, {@code kmem_free}.
 *
 * <pre>
 * Implementation notes
 *
 * Queues: per CPU a JCTools SpscArrayQueue of packets (the NIC of that CPU produces, the CPU's
 * softint consumes) and one back for free packets, so nothing is allocated per packet. The
 * handler copies each packet into IP input's queue (IpInput.enqueue) and returns it.
 *
 * kmem_free: free() marks the object freed (a volatile write, the poison) after
 * softint_disestablish returned. Every entry of the handler checks it first and panics with
 * "use after free", naming the object, its interface, the handler and the CPU: the late
 * dispatch that kern_softint.c 1.41's softint_disestablish lets happen
 * (docs/races/softint-disestablish.md). NetBSD has no such check; there the handler would read
 * freed memory (or, once sh_func is cleared, call through NULL: see Softint's lateDispatch).
 *
 * Difference from NetBSD: the packets move to IP input directly (no ether_input, no bpf).
 * </pre>
 */
public final class IfPercpuq implements KObject {
  /** Packets each CPU's queue holds. */
  static final int QUEUE_LEN = 256;

  private final long kaddr = Kaddr.alloc();
  private final NetStack net;
  final Ifnet ifp;
  final Softint.Handle si;
  private final SpscArrayQueue<Packet>[] inq;
  private final SpscArrayQueue<Packet>[] freeq;
  /** The poison: set by {@link #free} ({@code kmem_free}), read by every handler entry. */
  private volatile boolean freed;
  /** Who freed it, for the panic. */
  private volatile String freedBy;

  @SuppressWarnings("unchecked")
  private IfPercpuq(NetStack net, Ifnet ifp) {
    this.net = net;
    this.ifp = ifp;
    Machine m = net.machine;
    int n = m.ncpu();
    inq = new SpscArrayQueue[n];
    freeq = new SpscArrayQueue[n];
    for (int i = 0; i < n; i++) {
      inq[i] = new SpscArrayQueue<>(QUEUE_LEN);
      freeq[i] = new SpscArrayQueue<>(QUEUE_LEN);
      for (int k = 0; k < QUEUE_LEN; k++) {
        freeq[i].offer(new Packet());
      }
    }
    this.si = m.softint().establish(Softint.SOFTINT_NET, this::softint, "if_percpuq_softint",
        this);
  }

  /** {@code if_percpuq_create(ifp)}: its queues and its softint. */
  static IfPercpuq create(NetStack net, Ifnet ifp) {
    return new IfPercpuq(net, ifp);
  }

  /**
   * {@code if_percpuq_enqueue}: the NIC of CPU {@code ci} queues a packet for {@code dst}
   * there, or counts a drop; the caller schedules the softint ({@link #kick}). The NIC's host
   * thread or device; never after the driver quiesced the NIC.
   */
  boolean enqueue(Cpu ci, int src, int dst, int ttl) {
    int i = ci.index();
    Packet p = freeq[i].relaxedPoll();
    if (p == null) {
      ifp.iqdrops.add(1);
      return false;
    }
    p.src = src;
    p.dst = dst;
    p.ttl = ttl;
    p.rcvif = ifp;
    inq[i].offer(p);
    return true;
  }

  /** The receive interrupt on {@code ci}: {@code softint_schedule(ipq->ipq_si)} there. */
  void kick(Cpu ci) {
    net.machine.softint().scheduleCpu(si, ci);
  }

  /** {@code if_percpuq_softint}: hands this CPU's queued packets to IP input. */
  private void softint() {
    Cpu c = Lwp.current().cpu();
    checkAlive(c);
    int i = c.index();
    SpscArrayQueue<Packet> q = inq[i];
    SpscArrayQueue<Packet> free = freeq[i];
    int n = 0;
    for (Packet p; (p = q.relaxedPoll()) != null; n++) {
      checkAlive(c);
      net.ip.enqueue(c, ifp, p.src, p.dst, p.ttl);
      p.rcvif = null;
      free.offer(p);
    }
    if (n > 0) {
      ifp.ipackets.add(c, n);
      net.ip.kick(c);
    }
  }

  private void checkAlive(Cpu c) {
    if (freed) {
      throw Kassert.panic("use after free: if_percpuq %p of %s, freed by if_percpuq_destroy in "
          + "%s, used by softint if_percpuq_softint on %s", this, ifp, freedBy, c);
    }
  }

  /**
   * {@code if_percpuq_destroy}: {@code softint_disestablish}, purge, {@code kmem_free}. Thread
   * context; may sleep. The NIC must be quiesced.
   */
  void destroy() {
    net.machine.softint().disestablish(si);
    for (SpscArrayQueue<Packet> q : inq) {
      q.clear();   // IF_PURGE: the packets die with the queue
    }
    freedBy = Lwp.current().name();
    freed = true;   // kmem_free(ipq, sizeof(*ipq))
  }

  /** True once {@link #destroy} freed it. */
  public boolean isFreed() {
    return freed;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "if_percpuq " + ifp;
  }
}
