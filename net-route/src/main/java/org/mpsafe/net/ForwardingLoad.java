package org.mpsafe.net;

import static com.google.common.base.Preconditions.checkArgument;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;

/**
 * PR kern/51632's reproduction steps as a load on a {@link NetStack}: interfaces with
 * addresses, IP forwarding on, traffic through the forwarder on every CPU, and LWPs that keep
 * assigning and deleting addresses on the interfaces.
 *
 * <p>Layout: interface {@code wm<i>} has a permanent address {@code 10.i.255.1/24} and churns
 * {@code 10.i.k.1/24}, k &lt; {@code prefixesPerInterface}; traffic goes to random hosts of those
 * prefixes (see {@link Nic}: churned ones are forwarded while their address exists, noroute
 * otherwise), 5% to an unroutable net and 1% with TTL 1. Everything random comes from {@code seed}.
 *
 * <p>With {@code detachLwps > 0} (the softint-disestablish entry's load) each of that many LWPs
 * ({@code ifdetach/j}) also churns whole interfaces, as a driver's attach and detach do: it
 * attaches {@code vioN} with {@code if_percpuq} input, gives it {@code 10.(200+j).(N%250).1/24}
 * and lets traffic in (every NIC then also feeds a quarter of each burst to vioN's queue on its
 * CPU and schedules vioN's softint there); meanwhile it attaches the successor; then it
 * quiesces the NICs as the driver's stop routine does and calls {@code if_detach}, which
 * purges the address and ends in {@code if_percpuq_destroy}: {@code softint_disestablish},
 * then the free.
 *
 * @see NetStack
 */
public final class ForwardingLoad {
  /**
   * The load's shape.
   *
   * @param interfaces number of interfaces, at least 2
   * @param churnLwps LWPs assigning/deleting addresses, at least 1 (spread over interfaces)
   * @param prefixesPerInterface churned /24s per interface, at least 1
   * @param seed seeds traffic and churn
   * @param nicBurst packets per NIC burst
   * @param nicPauseNanos pause between bursts (0 = none)
   * @param localPercent share of packets (percent) sent to the interfaces' own addresses
   *     ({@code 10.i.255.1} and the churned {@code 10.i.k.1}), delivered locally; 0 = none
   * @param ifDestroy the churn LWPs destroy and re-create their interface
   *     ({@code ifconfig wm<i> destroy; ifconfig wm<i> create}: {@code if_detach}, then
   *     {@code if_attach} and the permanent address again) after each added address, instead of
   *     deleting the address
   * @param detachLwps LWPs attaching and detaching whole interfaces (0 = none)
   */
  public record Config(
      int interfaces, int churnLwps, int prefixesPerInterface, long seed, int nicBurst,
      long nicPauseNanos, int localPercent, boolean ifDestroy, int detachLwps) {
    public Config {
      checkArgument(interfaces >= 2, "interfaces must be >= 2: %s", interfaces);
      checkArgument(localPercent >= 0 && localPercent <= 100,
          "localPercent must be in [0, 100]: %s", localPercent);
      checkArgument(churnLwps >= 1, "churnLwps must be >= 1: %s", churnLwps);
      checkArgument(prefixesPerInterface >= 1 && prefixesPerInterface <= 200,
          "prefixesPerInterface must be in [1, 200]: %s", prefixesPerInterface);
      checkArgument(nicBurst >= 1, "nicBurst must be >= 1: %s", nicBurst);
      checkArgument(nicPauseNanos >= 0, "nicPauseNanos must be >= 0: %s", nicPauseNanos);
      checkArgument(detachLwps >= 0 && detachLwps <= 50, "detachLwps must be in [0, 50]: %s",
          detachLwps);
    }

    /**
     * PR kern/51632's shape: no local traffic, addresses deleted with SIOCDIFADDR, no interface
     * detach churn.
     */
    public Config(int interfaces, int churnLwps, int prefixesPerInterface, long seed,
        int nicBurst, long nicPauseNanos) {
      this(interfaces, churnLwps, prefixesPerInterface, seed, nicBurst, nicPauseNanos, 0,
          false, 0);
    }

    /** This shape with {@code percent}% of the packets for the interfaces' own addresses. */
    public Config withLocalPercent(int percent) {
      return new Config(interfaces, churnLwps, prefixesPerInterface, seed, nicBurst,
          nicPauseNanos, percent, ifDestroy, detachLwps);
    }

    /** This shape with churn by interface destroy/create ({@code ifDestroy}) on or off. */
    public Config withIfDestroy(boolean on) {
      return new Config(interfaces, churnLwps, prefixesPerInterface, seed, nicBurst,
          nicPauseNanos, localPercent, on, detachLwps);
    }

    /** This shape with {@code n} interface detach LWPs. */
    public Config withDetachLwps(int n) {
      return new Config(interfaces, churnLwps, prefixesPerInterface, seed, nicBurst,
          nicPauseNanos, localPercent, ifDestroy, n);
    }

    /** The defaults of the stress CLI: 2 interfaces, one churn LWP each. */
    public static Config defaults(long seed) {
      return new Config(2, 2, 4, seed, 64, 20_000);
    }
  }

  private final NetStack net;
  private final Config config;
  private final List<Ifnet> ifs = new ArrayList<>();
  /** The current ifnet of each interface index (replaced by each destroy/create). */
  private AtomicReferenceArray<Ifnet> current;
  private final List<Nic> nics = new ArrayList<>();
  private final List<Lwp> churners = new ArrayList<>();
  private volatile boolean stop;
  private final AtomicLong churnCycles = new AtomicLong();
  private final AtomicLong churnErrors = new AtomicLong();
  /** Per detach LWP, the if_percpuq the NICs also feed (its vioN taking traffic), or null. */
  final AtomicReferenceArray<IfPercpuq> rxTargets;
  /** Counted down by each churn LWP as it ends, also when it unwinds after a panic. */
  private CountDownLatch churnersDone;

  private ForwardingLoad(NetStack net, Config config) {
    this.net = net;
    this.config = config;
    this.rxTargets = new AtomicReferenceArray<>(config.detachLwps());
  }

  /** Sets the stack up and starts traffic and churn. Call from outside the machine. */
  public static ForwardingLoad start(NetStack net, Config config) {
    ForwardingLoad f = new ForwardingLoad(net, config);
    f.setup();
    return f;
  }

  private void setup() {
    Machine m = net.machine;
    int n = config.interfaces();
    for (int i = 0; i < n; i++) {
      ifs.add(net.ifAttach("wm" + i));
    }
    current = new AtomicReferenceArray<>(ifs.toArray(new Ifnet[0]));
    m.run("ifconfig", () -> {
      for (int i = 0; i < n; i++) {
        int e = net.inControl(ifs.get(i), Inet.SIOCAIFADDR, base(i) | 1, 24);
        if (e != 0) {
          throw new IllegalStateException("ifconfig wm" + i + ": " + Inet.errno(e));
        }
      }
    });
    net.setForwarding(true);
    int[] stable = new int[n];
    int[] churned = new int[n * config.prefixesPerInterface()];
    for (int i = 0; i < n; i++) {
      stable[i] = base(i);
      for (int k = 0; k < config.prefixesPerInterface(); k++) {
        churned[i * config.prefixesPerInterface() + k] = churned(i, k);
      }
    }
    SplittableRandom seeds = new SplittableRandom(config.seed());
    for (int c = 0; c < m.ncpu(); c++) {
      nics.add(new Nic(net, m.cpu(c), ifs.get(c % n), stable, churned, seeds.nextLong(),
          config.nicBurst(), config.nicPauseNanos(), config.localPercent(),
          config.detachLwps() > 0 ? this : null));
    }
    churnersDone = new CountDownLatch(config.churnLwps() + config.detachLwps());
    for (int c = 0; c < config.churnLwps(); c++) {
      Ifnet ifp = ifs.get(c % n);
      int ifIndex = c % n;
      long seed = seeds.nextLong();
      boolean destroyer = c < n;
      churners.add(m.kthreadCreate(Pri.PRI_USER, 0, null,
          () -> churn(ifp, ifIndex, destroyer, seed),
          "ifconfig/" + c));
    }
    for (int j = 0; j < config.detachLwps(); j++) {
      int jj = j;
      churners.add(m.kthreadCreate(Pri.PRI_USER, 0, null, () -> detach(jj), "ifdetach/" + j));
    }
    if (m.deterministic()) {
      long now = m.uptimeNanos();
      for (int c = 0; c < nics.size(); c++) {
        m.attachDevice("nic/" + c, now + (c + 1) * 1_000L, nics.get(c));
      }
    } else {
      for (Nic nic : nics) {
        nic.thread.start();
      }
    }
  }

  private static int base(int i) {
    return 0x0A00_0000 | (i << 16) | (255 << 8);
  }

  private static int churned(int i, int k) {
    return 0x0A00_0000 | (i << 16) | (k << 8);
  }

  /** One churn LWP: assign a random churned address, then delete it; again and again. */
  private void churn(Ifnet ifp, int i, boolean destroyer, long seed) {
    try {
      churnLoop(ifp, i, destroyer, seed);
    } finally {
      churnersDone.countDown();
    }
  }

  private void churnLoop(Ifnet ifp0, int i, boolean destroyer, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    if (config.ifDestroy() && destroyer) {
      destroyLoop(i, rnd);
      return;
    }
    while (!stop) {
      Ifnet ifp = config.ifDestroy() ? current.get(i) : ifp0;
      int addr = churned(i, rnd.nextInt(config.prefixesPerInterface())) | 1;
      int e = net.inControl(ifp, Inet.SIOCAIFADDR, addr, 24);
      if (e == 0) {
        Kern.yield();
        e = net.inControl(ifp, Inet.SIOCDIFADDR, addr, 24);
      }
      // EADDRNOTAVAIL on the delete: another churn LWP of this interface added the same address
      // (for in_control a change of the existing one) and deleted it first. ENXIO: the
      // interface's destroyer detached it meanwhile (ifDestroy).
      if (e != 0 && e != Inet.EADDRNOTAVAIL && !(config.ifDestroy() && e == Inet.ENXIO)) {
        churnErrors.incrementAndGet();
      }
      churnCycles.incrementAndGet();
      Kern.yield();
    }
  }

  /**
   * Churn by interface destroy/create, by the first churn LWP of interface {@code i} (the
   * others add and delete addresses on whatever {@code wm<i>} is current, ENXIO when it was
   * just destroyed): add a churned address, then {@code if_detach} the interface (all its
   * addresses and routes purged through {@code pr_purgeif}), attach a new {@code wm<i>} and
   * give it its permanent address again.
   */
  private void destroyLoop(int i, SplittableRandom rnd) {
    while (!stop) {
      Ifnet ifp = current.get(i);
      int addr = churned(i, rnd.nextInt(config.prefixesPerInterface())) | 1;
      int e = net.inControl(ifp, Inet.SIOCAIFADDR, addr, 24);
      if (e == 0) {
        Kern.yield();
        net.ifDetach(ifp);
        Ifnet fresh = net.ifAttach("wm" + i);
        e = net.inControl(fresh, Inet.SIOCAIFADDR, base(i) | 1, 24);
        current.set(i, fresh);
      }
      if (e != 0) {
        churnErrors.incrementAndGet();
      }
      churnCycles.incrementAndGet();
      Kern.yield();
    }
  }

  /** One interface detach LWP: attach, address, traffic, quiesce, detach; again and again. */
  private void detach(int j) {
    try {
      detachLoop(j);
    } finally {
      churnersDone.countDown();
    }
  }

  /**
   * The next interface is attached (its softint established) while the current one still
   * takes traffic, so a slot freed by a detach is not taken again at once.
   */
  private void detachLoop(int j) {
    int gen = 0;
    Ifnet cur = attachVio(j, gen++);
    while (!stop) {
      rxTargets.set(j, cur.percpuq);
      for (int t = 0; t < 10 && cur.ipackets() == 0 && !stop; t++) {
        Kern.kpause("rxflow", 1);
      }
      Ifnet next = attachVio(j, gen++);
      quiesce(j, cur.percpuq);
      net.ifDetach(cur);
      cur = next;
      Kern.yield();
    }
  }

  /** {@code if_attach} of {@code vioN} with if_percpuq input, and its address. */
  private Ifnet attachVio(int j, int gen) {
    Ifnet ifp = net.ifAttachPercpuq("vio" + (j * 1_000_000 + gen));
    int addr = 0x0A00_0000 | ((200 + j) << 16) | ((gen % 250) << 8) | 1;
    if (net.inControl(ifp, Inet.SIOCAIFADDR, addr, 24) != 0) {
      churnErrors.incrementAndGet();
    }
    return ifp;
  }

  /**
   * The driver's stop routine: no NIC feeds {@code ipq} once this returns. A NIC announces the
   * queue it is about to feed and then re-reads the target; this clears detach LWP {@code j}'s
   * target and then waits while a NIC announces ipq (volatile accesses on both sides), so
   * either the NIC sees null and feeds nothing or this sees it and waits for its burst to end.
   */
  private void quiesce(int j, IfPercpuq ipq) {
    rxTargets.set(j, null);
    for (Nic nic : nics) {
      while (nic.feeding == ipq) {
        Kern.kpause("wmstop", 1);
      }
    }
  }

  /**
   * Stops traffic and churn and waits for them (the machine keeps running): on return no NIC
   * thread runs and every churn LWP has finished its last add/delete cycle, so the address,
   * route and destroy counts are final. Call from outside the machine (not from an LWP).
   */
  public void stop() {
    stop = true;
    stopTraffic();
    Machine m = net.machine;
    if (m.deterministic()) {
      // The machine runs only while its host lets it: let it finish the cycles in progress.
      m.advanceUntil(() -> churnersDone.getCount() == 0 || !churning(),
          Duration.ofSeconds(STOP_WAIT_SECONDS));
      return;
    }
    // Wait for the churn LWPs to finish their cycle, so the counts read after stop() are final.
    // An LWP the machine stopped before it ever ran never reaches churn(): it just ends, so
    // also stop waiting once no churn LWP is left.
    long deadline = System.nanoTime() + STOP_WAIT_SECONDS * 1_000_000_000L;
    try {
      while (churnersDone.getCount() > 0 && churning() && System.nanoTime() < deadline) {
        churnersDone.await(10, TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Bound of each wait in {@link #stop()} and {@link #stopTraffic()}. */
  private static final int STOP_WAIT_SECONDS = 10;

  /** Stops the NIC threads only (the machine stopping ends the churn LWPs). */
  public void stopTraffic() {
    for (Nic nic : nics) {
      nic.stop = true;
    }
    if (net.machine.deterministic()) {
      return;   // devices: a stopped NIC never fires again
    }
    for (Nic nic : nics) {
      try {
        nic.thread.join(STOP_WAIT_SECONDS * 1000L);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** True while any churn LWP has not finished. */
  public boolean churning() {
    for (Lwp l : churners) {
      if (l.state() != Lwp.State.ZOMBIE) {
        return true;
      }
    }
    return false;
  }

  public List<Ifnet> interfaces() {
    return List.copyOf(ifs);
  }

  public Config config() {
    return config;
  }

  /** Add/delete cycles completed by the churn LWPs. */
  public long churnCycles() {
    return churnCycles.get();
  }

  /** in_control errors other than a delete's EADDRNOTAVAIL (should stay 0). */
  public long churnErrors() {
    return churnErrors.get();
  }

}
