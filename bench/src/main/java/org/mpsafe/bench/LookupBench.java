package org.mpsafe.bench;

import java.util.Arrays;
import java.util.HashMap;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.net.Ifaddr;
import org.mpsafe.net.Ifnet;
import org.mpsafe.net.Inet;
import org.mpsafe.net.NetStack;
import org.mpsafe.net.RouteTable;
import org.mpsafe.net.RtLookup;
import org.mpsafe.net.Rtentry;
import org.mpsafe.psref.Psref;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The forwarding lookup of {@code ip_forward}: {@code rtalloc1_psref} (rt_lock as reader,
 * longest-prefix match, psref on the rtentry), a psref on the route's ifaddr, the interface
 * check, both releases — on {@link #routes} static /24 routes via one ifaddr, optionally while
 * another LWP adds and deletes /32 routes at {@link #changes} per second (each delete drains
 * the rtentry's psref with a low-priority xcall, as {@code rt_free} does).
 *
 * <p>Baseline: the same LPM over {@link HashMap}s under a {@link ReentrantReadWriteLock}, with
 * an {@link AtomicLong} refcount on the route and on its address (taken and dropped where
 * psrefs are), and a host thread making the same changes under the write lock (a delete waits
 * for the route's refcount to drop to 0, like {@code rt_free}).
 *
 * <p>Benchmark threads are LWPs bound to cpu0 (and cpu1) of a 2-CPU machine. Throughput in
 * ops/µs = M lookups/s (per thread: divide the 2-thread score by 2). Targets: ≥ 40 M/s per core
 * on ≤ 1k routes, ≤ 10% slower under changes, ≥ 50× the baseline with 2 threads.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.NODIAGNOSTIC, BenchSupport.HOST_THREADS,
    BenchSupport.HOST_THREADS_CLASS})
public class LookupBench {
  static final int DSTS = 1 << 12;
  static final int GATEWAY = Inet.parse("192.168.0.254");

  /** Destination {@code i}'s /24: 10.x.y.0 for route i. */
  static int routePrefix(int i) {
    return Inet.parse("10.0.0.0") + (i << 8);
  }

  /** Random hosts inside the first {@code routes} /24s (all routable). */
  static int[] destinations(int routes, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] d = new int[DSTS];
    for (int i = 0; i < DSTS; i++) {
      d[i] = routePrefix(r.nextInt(routes)) + 1 + r.nextInt(254);
    }
    return d;
  }

  /** The /32 route of change number {@code k} (172.16/16, never looked up). */
  static int churnHost(long k) {
    return Inet.parse("172.16.0.0") + (int) (k & 0xffff);
  }

  /** How many churn routes exist at once: a change adds k and deletes k - WINDOW. */
  static final int WINDOW = 64;

  // ---- mpsafe -------------------------------------------------------------------------------

  /** A 2-CPU machine with wm0 192.168.0.1/16, {@code routes} /24s, and the route changer. */
  @State(Scope.Benchmark)
  public static class Net {
    @Param({"100", "1000", "10000"})
    public int routes;

    /** Route changes per second by a concurrent LWP (half adds, half deletes); 0: none. */
    @Param({"0", "10000"})
    public int changes;

    /**
     * How {@code rtalloc1_psref} reads the table ({@link RtLookup}): {@code RWLOCK}, NetBSD's
     * {@code rt_lock} as a reader, or {@code PSERIALIZE}, the port's lock-free read side.
     */
    @Param({"RWLOCK", "PSERIALIZE"})
    public String lookup;

    Machine machine;
    NetStack net;
    RouteTable rt;
    Ifaddr ifa;
    int[] dsts;
    final AtomicInteger nextCpu = new AtomicInteger();
    final AtomicLong changesDone = new AtomicLong();
    long changesStart;

    @Setup(Level.Trial)
    public void boot() {
      machine = BenchSupport.boot(BenchSupport.config(2).withHz(1000)
          .withOption(RtLookup.OPTION, RtLookup.valueOf(lookup)));
      net = NetStack.create(machine);
      rt = net.rt();
      Ifnet wm0 = net.ifAttach("wm0");
      machine.run("ifconfig", () -> {
        int e = net.inControl(wm0, Inet.SIOCAIFADDR, Inet.parse("192.168.0.1"), 16);
        if (e != 0) {
          throw new IllegalStateException("in_control: " + Inet.errno(e));
        }
        ifa = net.addrs().addresses(wm0).get(0);
        for (int i = 0; i < routes; i++) {
          int r = rt.rtrequestAdd(routePrefix(i), 24, GATEWAY,
              Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY);
          if (r != 0) {
            throw new IllegalStateException("route add: " + Inet.errno(r));
          }
        }
      });
      dsts = destinations(routes, 42);
      if (changes > 0) {
        changesStart = System.nanoTime();
        machine.kthreadCreate(Pri.PRI_KTHREAD, 0, null, this::changeRoutes, "route_changer");
      }
    }

    /** The route changer: {@code changes}/s, paced per 1 ms tick with kpause. */
    private void changeRoutes() {
      long start = System.nanoTime();
      long k = 0;
      for (long n = 0; ; ) {
        long due = (System.nanoTime() - start) * changes / 1_000_000_000L;
        for (; k < due; n++) {
          rt.rtrequestAdd(churnHost(n), 32, GATEWAY, Rtentry.RTF_HOST | Rtentry.RTF_GATEWAY);
          k++;
          if (n >= WINDOW) {
            rt.rtDelete(churnHost(n - WINDOW), 32);
            k++;
          }
          changesDone.lazySet(k);
        }
        Kern.kpause("churn", 1);
      }
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      if (changes > 0) {
        double s = (System.nanoTime() - changesStart) / 1e9;
        System.out.printf("%n[route changer: %d changes in %.1f s = %.0f/s; rt_free: %d routes"
            + " destroyed after %d pserialize barriers]%n", changesDone.get(), s,
            changesDone.get() / s, rt.destroys(), rt.rtFreeBarriers());
      }
      BenchSupport.shutdown(machine);
    }
  }

  /** A benchmark thread: an LWP bound to its own CPU, its two psrefs, its position in dsts. */
  @State(Scope.Thread)
  public static class Forwarder {
    Machine.Entry entry;
    final Psref rtRef = new Psref();
    final Psref ifaRef = new Psref();
    int next;

    @Setup(Level.Trial)
    public void enter(Net n) {
      entry = BenchSupport.enterNextCpu(n.machine, n.nextCpu, "forward");
      next = n.nextCpu.get() * 977;
    }

    @TearDown(Level.Trial)
    public void exit() {
      entry.exit();
    }
  }

  /** The ip_forward hot path; returns the output interface index (0: no route / down). */
  static int forward(Net n, Forwarder f) {
    int dst = n.dsts[f.next++ & (DSTS - 1)];
    Rtentry rt = n.rt.rtalloc1Psref(dst, f.rtRef);
    if (rt == null) {
      return 0;
    }
    Ifaddr ia = rt.ifa();
    n.net.addrs().ifaAcquire(ia, f.ifaRef);
    Ifnet ifp = rt.ifp();
    int out = ifp.isUp() ? ifp.index() : 0;
    n.net.addrs().ifaRelease(ia, f.ifaRef);
    n.rt.rtUnrefPsref(rt, f.rtRef);
    return out;
  }

  @Benchmark
  @Threads(1)
  public int lookupPsref1Thread(Net n, Forwarder f) {
    return forward(n, f);
  }

  @Benchmark
  @Threads(2)
  public int lookupPsref2Threads(Net n, Forwarder f) {
    return forward(n, f);
  }

  // ---- baseline: ReentrantReadWriteLock + HashMap LPM + AtomicLong refcounts -----------------

  /** An address with a refcount. */
  static final class Addr {
    final AtomicLong refcnt = new AtomicLong();
    volatile boolean up = true;
    final int index = 1;
  }

  /** A route with a refcount. */
  static final class Route {
    final int dst;
    final int len;
    final Addr ifa;
    final AtomicLong refcnt = new AtomicLong();

    Route(int dst, int len, Addr ifa) {
      this.dst = dst;
      this.len = len;
      this.ifa = ifa;
    }
  }

  /** The baseline table and its route changer. */
  @State(Scope.Benchmark)
  public static class RwTable {
    @Param({"100", "1000", "10000"})
    public int routes;

    @Param({"0", "10000"})
    public int changes;

    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    @SuppressWarnings("unchecked")
    final HashMap<Integer, Route>[] byLen = new HashMap[33];
    int[] lengths = new int[0];
    final Addr ifa = new Addr();
    int[] dsts;
    volatile boolean stop;
    Thread changer;
    final AtomicLong changesDone = new AtomicLong();
    long changesStart;

    @Setup(Level.Trial)
    public void build() {
      add(new Route(Inet.parse("192.168.0.0"), 16, ifa));
      add(new Route(Inet.parse("192.168.0.1"), 32, ifa));
      for (int i = 0; i < routes; i++) {
        add(new Route(routePrefix(i), 24, ifa));
      }
      dsts = destinations(routes, 42);
      if (changes > 0) {
        changesStart = System.nanoTime();
        changer = new Thread(this::changeRoutes, "rwlock_route_changer");
        changer.setDaemon(true);
        changer.start();
      }
    }

    void add(Route r) {
      lock.writeLock().lock();
      try {
        HashMap<Integer, Route> m = byLen[r.len];
        if (m == null) {
          m = byLen[r.len] = new HashMap<>();
        }
        m.put(r.dst, r);
        rebuildLengths();
      } finally {
        lock.writeLock().unlock();
      }
    }

    void delete(int dst, int len) {
      Route r;
      lock.writeLock().lock();
      try {
        r = byLen[len].remove(dst);
        rebuildLengths();
      } finally {
        lock.writeLock().unlock();
      }
      while (r != null && r.refcnt.get() != 0) { // rt_free: wait for the holders
        Thread.onSpinWait();
      }
    }

    private void rebuildLengths() {
      int n = 0;
      int[] ls = new int[33];
      for (int len = 32; len >= 0; len--) {
        if (byLen[len] != null && !byLen[len].isEmpty()) {
          ls[n++] = len;
        }
      }
      lengths = Arrays.copyOf(ls, n);
    }

    /** Longest-prefix match; caller holds the read lock. */
    Route match(int dst) {
      for (int len : lengths) {
        Route r = byLen[len].get(dst & Inet.mask(len));
        if (r != null) {
          return r;
        }
      }
      return null;
    }

    private void changeRoutes() {
      long start = System.nanoTime();
      long k = 0;
      for (long n = 0; !stop; ) {
        long due = (System.nanoTime() - start) * changes / 1_000_000_000L;
        for (; k < due && !stop; n++) {
          add(new Route(churnHost(n), 32, ifa));
          k++;
          if (n >= WINDOW) {
            delete(churnHost(n - WINDOW), 32);
            k++;
          }
          changesDone.lazySet(k);
        }
        LockSupport.parkNanos(1_000_000L);
      }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      stop = true;
      if (changer != null) {
        changer.join(10_000);
        if (changer.isAlive()) {
          throw new IllegalStateException("changer did not stop");
        }
        double s = (System.nanoTime() - changesStart) / 1e9;
        System.out.printf("%n[rwlock route changer: %d changes in %.1f s = %.0f/s]%n",
            changesDone.get(), s, changesDone.get() / s);
      }
    }
  }

  /** A baseline thread's position in dsts. */
  @State(Scope.Thread)
  public static class Cursor {
    private static final AtomicInteger THREADS = new AtomicInteger();
    int next = (THREADS.getAndIncrement() & 1) * 977;
  }

  static int forwardRwlock(RwTable t, Cursor c) {
    int dst = t.dsts[c.next++ & (DSTS - 1)];
    Route r;
    t.lock.readLock().lock();
    try {
      r = t.match(dst);
      if (r == null) {
        return 0;
      }
      r.refcnt.incrementAndGet();
    } finally {
      t.lock.readLock().unlock();
    }
    Addr ia = r.ifa;
    ia.refcnt.incrementAndGet();
    int out = ia.up ? ia.index : 0;
    ia.refcnt.decrementAndGet();
    r.refcnt.decrementAndGet();
    return out;
  }

  @Benchmark
  @Threads(1)
  public int lookupRwlockAtomic1Thread(RwTable t, Cursor c) {
    return forwardRwlock(t, c);
  }

  @Benchmark
  @Threads(2)
  public int lookupRwlockAtomic2Threads(RwTable t, Cursor c) {
    return forwardRwlock(t, c);
  }
}
