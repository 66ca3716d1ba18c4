package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.psref.Psref;
import org.mpsafe.xcall.Xcall;

/**
 * Shared set-up of the net-route tests: a small machine with the xcall early-return detector on,
 * a stack with interfaces and addresses, and the end-of-test checks (no panic, clean shutdown).
 *
 * <p>Timeouts are generous on purpose: other builds share the (2-core) box, and no test asserts
 * on speed — a limit only turns a hang into a failure.
 */
final class NetFixture {
  private NetFixture() {}

  /** Bound of every Awaitility wait. */
  static final Duration LIMIT = Duration.ofSeconds(30);

  /** What a deterministic load run reads from its machine before it shuts down. */
  interface LoadResult<T> {
    T read(Machine m, NetStack net, ForwardingLoad load);
  }

  /**
   * One run of the PR's load on the deterministic machine: {@code cpus} CPUs, 256 trace events,
   * a 30 s watchdog, {@code seed} both for the schedule and for the load, plus {@code options}
   * (key, value, key, value ...); the load's shape ({@code 2 interfaces, 2 churn LWPs, 4
   * prefixes, bursts of 64 every 16 ms}) reshaped by {@code shape}; {@code virtual} of virtual
   * time. Returns {@code result} read before the shutdown, which must leave no thread.
   */
  static <T> T runDeterministic(int cpus, long seed, Duration virtual,
      UnaryOperator<ForwardingLoad.Config> shape, LoadResult<T> result, Object... options) {
    MachineConfig c = MachineConfig.of(cpus).withTraceSize(256)
        .withWatchdog(Duration.ofSeconds(30))
        .withOption(Deterministic.OPTION, Deterministic.of(seed, Deterministic.Strategy.random()));
    for (int i = 0; i < options.length; i += 2) {
      c = c.withOption((String) options[i], options[i + 1]);
    }
    try (Machine m = Machine.boot(c)) {
      NetStack net = NetStack.create(m);
      ForwardingLoad f = ForwardingLoad.start(net,
          shape.apply(new ForwardingLoad.Config(2, 2, 4, seed, 64, 16_000_000L)));
      m.advance(virtual);
      T r = result.read(m, net, f);
      assertEquals(List.of(), m.shutdown());
      return r;
    }
  }

  /** The panic as the deterministic tests compare it: message, CPU and LWP; null if none. */
  static String panicLine(Machine m) {
    return m.panic().map(p -> p.message() + " on cpu" + p.cpu() + " in " + p.lwp()).orElse(null);
  }

  /** {@code ncpu} CPUs, default (fixed) xcall accounting, early-return detector on. */
  static Machine boot(int ncpu) {
    return boot(ncpu, RtLookup.RWLOCK);
  }

  /** As {@link #boot(int)}, the routing table read as {@code lookup} says. */
  static Machine boot(int ncpu, RtLookup lookup) {
    return Machine.boot(MachineConfig.of(ncpu).withOption(Xcall.OPTION_DETECTOR, true)
        .withOption(RtLookup.OPTION, lookup));
  }

  static int ip(String dotted) {
    return Inet.parse(dotted);
  }

  /** {@code ifconfig ifp addr/len alias}; asserts success. */
  static void ifconfig(Machine m, NetStack net, Ifnet ifp, String addr, int len) {
    int e = m.call("ifconfig", () -> net.inControl(ifp, Inet.SIOCAIFADDR, ip(addr), len));
    assertEquals(0, e, () -> "ifconfig " + ifp + " " + addr + "/" + len + ": " + Inet.errno(e));
  }

  /** {@code ifconfig ifp addr delete}: the errno. */
  static int ifconfigDelete(Machine m, NetStack net, Ifnet ifp, String addr) {
    return m.call("ifconfig", () -> net.inControl(ifp, Inet.SIOCDIFADDR, ip(addr), 0));
  }

  /** The address {@code addr} of the stack, or null. */
  static Ifaddr ifaddr(NetStack net, String addr) {
    for (Ifaddr ia : net.addrs().addresses(null)) {
      if (ia.addr == ip(addr)) {
        return ia;
      }
    }
    return null;
  }

  /**
   * {@code route add dst/len gw} ({@code RTF_GATEWAY}), or without {@code gw} {@code route add
   * dst/len -interface via}: rtrequest(RTM_ADD) finds the interface address itself (rt_getifa).
   * On success asserts that it found {@code via}.
   */
  static int routeAdd(Machine m, NetStack net, String dst, int len, String gw, String via) {
    int flags = Rtentry.RTF_STATIC | (gw == null ? 0 : Rtentry.RTF_GATEWAY)
        | (len == 32 ? Rtentry.RTF_HOST : 0);
    int gateway = ip(gw == null ? via : gw);
    int e = m.call("route", () -> net.rt().rtrequestAdd(ip(dst), len, gateway, flags));
    if (e == 0) {
      Rtentry rt = exact(m, net, dst, len);
      assertEquals(ip(via), rt.ifa().addr(), () -> "route " + dst + "/" + len + ": " + rt);
    }
    return e;
  }

  /** {@code route delete dst/len}: the errno. */
  static int routeDelete(Machine m, NetStack net, String dst, int len) {
    return m.call("route", () -> net.rt().rtDelete(ip(dst), len));
  }

  /**
   * {@code route -n get dst}: the route rtalloc1_psref finds, looked up in a bound LWP and
   * released before returning (the object stays readable: it is only freed by a destroy).
   */
  static Rtentry routeGet(Machine m, NetStack net, String dst) {
    return m.call("route", () -> {
      int bound = Kern.curlwpBind();
      Psref ref = new Psref();
      Rtentry rt = net.rt().rtalloc1Psref(ip(dst), ref);
      if (rt != null) {
        net.rt().rtUnrefPsref(rt, ref);
      }
      Kern.curlwpBindx(bound);
      return rt;
    });
  }

  /** The route for exactly {@code dst/len}, or null. */
  static Rtentry exact(Machine m, NetStack net, String dst, int len) {
    return m.call("netstat", () -> net.rt().lookupExact(ip(dst), len));
  }

  /** Every route of the table ({@code netstat -rn}). */
  static List<Rtentry> routes(Machine m, NetStack net) {
    return m.call("netstat", () -> net.rt().routes());
  }

  /** End of a test: no panic, and shutdown leaves no thread behind. */
  static void assertCleanShutdown(Machine m) {
    assertTrue(m.panic().isEmpty(), () -> "unexpected " + m.panic().get());
    assertEquals(List.of(), m.shutdown(), "threads alive after shutdown");
  }
}
