package org.mpsafe.net;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkState;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.xcall.Xcall;

/**
 * The simplified IPv4 stack of one {@link Machine}: interfaces ({@code if.c}), addresses
 * ({@code in.c}, {@link InAddrs}), the routing table ({@code route.c}, {@link RouteTable}) and
 * forwarding ({@code ip_input.c}, {@link IpInput}), with NetBSD's object lifetimes: ifaddrs
 * and rtentries are psref targets, destroyed through {@code psref_target_destroy} by the LWP
 * that deletes them.
 *
 * <pre>{@code
 * NetStack net = NetStack.create(m);
 * Ifnet wm0 = net.ifAttach("wm0");
 * m.run("ifconfig", () -> net.inControl(wm0, Inet.SIOCAIFADDR, Inet.parse("10.0.0.1"), 24));
 * ...
 * net.destroy();   // if_detach everything, psref_class_destroy both classes
 * }</pre>
 *
 * <pre>
 * Implementation notes
 *
 * Teardown (destroy) is the sequence a NetBSD detach path runs, gathered in one place because a
 * kernel never tears down its whole stack: if_detach of each interface (if.c 1.318 if_detach:
 * purge the addresses, delete the stray routes — here rt_delete_matched_entries), a wait for the
 * rt_free workqueue (workqueue_wait), then psref_class_destroy of rt_psref_class and
 * ifa_psref_class (subr_psref.c 1.4: KASSERT(psref_class_drained_p(class))). Every psref target
 * of both classes is destroyed by then, each destroy having waited for its holders, so the
 * KASSERT checks that no reference outlived its target on any CPU.
 *
 * softnet_lock (boot option SoftnetLock.OPTION, none by default) is NetBSD's global adaptive
 * mutex for what is not MP-safe. With it on, if_detach runs the protocols' pr_purgeif as
 * udp_purgeif does (udp_usrreq.c 1.222, udp6_usrreq.c 1.121): mutex_enter(softnet_lock);
 * in_pcbpurgeif0; in_purgeif(ifp); in_pcbpurgeif; mutex_exit — or, fixed (udp6_usrreq.c
 * 1.137.2.1, NET_MPSAFE), with the lock dropped around in_purgeif. The PCB purges have nothing
 * to do here (the model has no sockets); the lock's extent is what matters: in_purgeif deletes
 * the interface's routes and addresses, and each rt_free and ifa_remove waits in
 * psref_target_destroy for every CPU to let go. ipintr takes the same lock for a local
 * delivery while it holds the route's psref (IpInput), so the buggy extent is a deadlock:
 * the destroyer waits for the psref of a softint that waits for the destroyer's lock.
 * Lock order: ifnet ioctl lock, then softnet_lock; a reader takes softnet_lock with only psrefs
 * held.
 * </pre>
 */
public final class NetStack {
  /** Default length of each CPU's input queue. */
  public static final int DEFAULT_QUEUE_LEN = 1024;

  final Machine machine;
  final RouteTable rt;
  final InAddrs addrs;
  final IpInput ip;
  /** {@code softnet_lock}: taken only if {@link #softnetMode} is not NONE. */
  final KMutex softnetLock = new KMutex("softnet_lock");
  /** Where softnet_lock is taken (boot option {@link SoftnetLock#OPTION}). */
  final SoftnetLock softnetMode;
  private final List<Ifnet> ifnets = new CopyOnWriteArrayList<>();
  /** {@code if_detach} calls that finished. */
  private final AtomicLong detaches = new AtomicLong();
  private volatile boolean destroyed;

  private NetStack(Machine m, int queueLen) {
    this.machine = m;
    this.softnetMode = m.config().option(SoftnetLock.OPTION, SoftnetLock.NONE);
    this.rt = new RouteTable(m);
    this.addrs = new InAddrs(this);
    this.rt.addrs = addrs;
    this.ip = new IpInput(this, queueLen);
  }

  /** {@code ifinit} + {@code rt_init} + {@code ip_init} on {@code m} (from any thread). */
  public static NetStack create(Machine m) {
    return create(m, DEFAULT_QUEUE_LEN);
  }

  /** As {@link #create(Machine)} with input queues of {@code queueLen} packets. */
  public static NetStack create(Machine m, int queueLen) {
    checkArgument(queueLen >= 16, "queueLen must be >= 16: %s", queueLen);
    if (Lwp.currentOrNull() != null) {
      return new NetStack(m, queueLen);
    }
    return m.call("netinit", () -> new NetStack(m, queueLen));
  }

  public Machine machine() {
    return machine;
  }

  public RouteTable rt() {
    return rt;
  }

  public InAddrs addrs() {
    return addrs;
  }

  /** {@code if_attach}: a new interface, up. */
  public Ifnet ifAttach(String name) {
    checkState(!destroyed, "if_attach(%s) on a destroyed stack", name);
    Ifnet ifp = new Ifnet(machine, name, ifnets.size() + 1);
    ifnets.add(ifp);
    return ifp;
  }

  /**
   * {@code if_attach} of an interface whose driver takes input through {@code if_percpuq}
   * ({@code if_percpuq_create}): per-CPU input queues and a softint at IPL_SOFTNET that hands
   * their packets to IP input. From an LWP or outside the machine.
   */
  public Ifnet ifAttachPercpuq(String name) {
    checkState(!destroyed, "if_attach(%s) on a destroyed stack", name);
    Ifnet ifp = new Ifnet(machine, name, ifnets.size() + 1);
    ifp.percpuq = IfPercpuq.create(this, ifp);
    ifnets.add(ifp);
    return ifp;
  }

  /**
   * {@code if_detach}: marks the interface detached and down, purges its addresses (their
   * routes and ifaddrs destroyed through psref), then deletes the stray routes still through it
   * (static routes); last, for an interface with {@code if_percpuq}, a low-priority cross call
   * ("ensure that the interrupts have completed") and {@code if_percpuq_destroy}
   * ({@code if.c 1.419.2.9}). The driver must have quiesced its NIC. Thread context; may
   * sleep.
   */
  public void ifDetach(Ifnet ifp) {
    int bound = Kern.curlwpBind();
    ifp.ioctlLock.enter();
    try {
      ifp.up = false;
      ifp.detached = true;
      prPurgeif(ifp);
      // if_detach: "Delete stray routes from the routing table" —
      // rt_delete_matched_entries(i, if_delroute_matcher, ifp): static routes through the
      // interface would otherwise keep pointing at it and keep its ifaddrs from being freed.
      rt.rtDeleteMatchedEntries(r -> r.rtIfp == ifp);
    } finally {
      ifp.ioctlLock.exit();
      Kern.curlwpBindx(bound);
    }
    ifnets.remove(ifp);
    IfPercpuq ipq = ifp.percpuq;
    if (ipq != null) {
      Xcall.waitFor(Xcall.broadcast(0, (a1, a2) -> { }, null, null));
      ipq.destroy();
      ifp.percpuq = null;
    }
    detaches.incrementAndGet();
  }

  /** How many {@code if_detach} calls have finished (with {@code if_percpuq_destroy}). */
  public long detaches() {
    return detaches.get();
  }

  /**
   * {@code pr_purgeif(so, ifp)} of the inet protocols ({@code udp_purgeif}): the PCB purges
   * under {@code softnet_lock} around {@code in_purgeif}, which holds the lock throughout
   * ({@link SoftnetLock#PURGEIF_HELD}, {@link SoftnetLock#IPINTR}) or drops it
   * ({@link SoftnetLock#PURGEIF_RELEASED});
   * without the lock ({@link SoftnetLock#NONE}) just {@code in_purgeif}.
   */
  private void prPurgeif(Ifnet ifp) {
    if (!softnetMode.taken()) {
      inPurgeif(ifp);
      return;
    }
    softnetLock.enter();
    // in_pcbpurgeif0(&udbtable, ifp): no PCBs in the model.
    boolean drop = softnetMode == SoftnetLock.PURGEIF_RELEASED;
    if (drop) {
      softnetLock.exit();
    }
    inPurgeif(ifp);
    if (drop) {
      softnetLock.enter();
    }
    // in_pcbpurgeif(&udbtable, ifp): no PCBs in the model.
    softnetLock.exit();
  }

  /** {@code in_purgeif(ifp)}: {@code if_purgeaddrs(ifp, AF_INET, in_purgeaddr)}. */
  private void inPurgeif(Ifnet ifp) {
    for (Ifaddr ia : addrs.addresses(ifp)) {
      addrs.inPurgeaddr(ia);
    }
  }

  /**
   * Tears the stack down, as a detaching kernel does: {@code if_detach} of every interface (its
   * addresses, and every route through it, destroyed through psref and freed), a wait for the
   * {@code rt_free} workqueue, then {@code psref_class_destroy(rt_psref_class)} and
   * {@code psref_class_destroy(ifa_psref_class)}, each of which asserts
   * ({@code KASSERT(psref_class_drained_p(class))}) that no CPU still holds a reference of its
   * class. So a reference leaked by a user of {@link RouteTable#rtalloc1Psref} or
   * {@link InAddrs#ifaAcquire} shows here: the psref_target_destroy of its target waits for it
   * (and the watchdog reports the hang), and a reference held on anything else of the class
   * trips the KASSERT. Stop traffic first. From an LWP or from outside the machine; may sleep.
   * Afterwards the stack takes no more interfaces.
   */
  public void destroy() {
    if (Lwp.currentOrNull() == null) {
      machine.run("netfini", this::destroy);
      return;
    }
    destroyed = true;
    for (Ifnet ifp : ifnets) {
      ifDetach(ifp);
    }
    rt.rtFreeDrain();
    Psrefs.classDestroy(rt.rtPsrefClass);
    Psrefs.classDestroy(addrs.ifaPsrefClass);
    addrs.ifnetPsz.destroy();
  }

  /** True once {@link #destroy()} began. */
  public boolean isDestroyed() {
    return destroyed;
  }

  public List<Ifnet> ifnets() {
    return List.copyOf(ifnets);
  }

  /** {@code in_control}: see {@link InAddrs#inControl}. */
  public int inControl(Ifnet ifp, int cmd, int addr, int prefixlen) {
    return addrs.inControl(ifp, cmd, addr, prefixlen);
  }

  /** {@code sysctl net.inet.ip.forwarding}. */
  public void setForwarding(boolean on) {
    ip.forwarding = on;
  }

  public boolean forwarding() {
    return ip.forwarding;
  }

  /**
   * A packet for {@code dst} arrives on {@code rcvif}, its interrupt routed to {@code ci}:
   * queued and {@code ipintr} raised there. False if the queue was full (a drop). Any thread.
   */
  public boolean input(Cpu ci, Ifnet rcvif, int dst, int ttl) {
    boolean q = ip.enqueue(ci, rcvif, 0x0A00_0001, dst, ttl);
    ip.kick(ci);
    return q;
  }

  /** {@code netstat -s -p ip}. */
  public IpStat ipstat() {
    return ip.stat();
  }
}
