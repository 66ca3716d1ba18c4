package org.mpsafe.net;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.LIMIT;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.ifaddr;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ifconfigDelete;
import static org.mpsafe.net.NetFixture.ip;
import static org.mpsafe.net.NetFixture.routeAdd;
import static org.mpsafe.net.NetFixture.routeDelete;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.psref.Psref;

/**
 * ipintr / ip_forward through {@link NetStack#input}: the cases of NetBSD's
 * {@code tests/net/net/t_forwarding.sh} (forward across the router, TTL 1 gives "Time To Live
 * exceeded", forwarding off stops it) and the router's own addresses.
 *
 * <p>Topology: the packets arrive on wm0 (10.0.0.1/24); wm1 (10.1.0.1/24) is the way out.
 */
class IpForwardTest {

  private static final class Router implements AutoCloseable {
    final Machine m = boot(2);
    final NetStack net = NetStack.create(m);
    final Ifnet wm0 = net.ifAttach("wm0");
    final Ifnet wm1 = net.ifAttach("wm1");

    Router() {
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.1.0.1", 24);
    }

    void send(int cpu, String dst, int ttl) {
      assertTrue(net.input(m.cpu(cpu), wm0, ip(dst), ttl), "input queue full");
    }

    /** Waits until {@code n} packets were taken off the input queues. */
    IpStat awaitTotal(long n) {
      await().atMost(LIMIT).until(() -> !m.running() || net.ipstat().total() >= n);
      assertTrue(m.panic().isEmpty(), () -> "unexpected " + m.panic().get());
      return net.ipstat();
    }

    @Override
    public void close() {
      m.close();
    }
  }

  @Test
  void aPacketToAConnectedPrefixIsForwardedOnTheOutputInterface() {
    try (Router r = new Router()) {
      r.send(0, "10.1.0.5", 64);
      r.send(1, "10.1.0.6", 64);
      IpStat st = r.awaitTotal(2);
      assertEquals(2, st.forwarded());
      await().atMost(LIMIT).until(() -> r.wm1.opackets() == 2);
      assertEquals(0, r.wm0.opackets());
      assertEquals(new IpStat(2, 2, 0, 0, 0, 0, 0), st);
      assertCleanShutdown(r.m);
    }
  }

  /** t_forwarding: ping -T 1 across the router gets "Time To Live exceeded"; -T 2 passes. */
  @Test
  void ttlOneIsNotForwarded() {
    try (Router r = new Router()) {
      r.send(0, "10.1.0.5", 1);
      r.send(0, "10.1.0.5", 2);
      IpStat st = r.awaitTotal(2);
      assertEquals(1, st.timeexceeded());
      assertEquals(1, st.forwarded());
      assertEquals(1, r.wm1.opackets());
      assertCleanShutdown(r.m);
    }
  }

  @Test
  void noRouteIsCountedAsNoroute() {
    try (Router r = new Router()) {
      r.send(0, "192.168.7.7", 64);
      r.send(1, "11.0.0.1", 64);
      IpStat st = r.awaitTotal(2);
      assertEquals(2, st.noroute());
      assertEquals(0, st.forwarded());
      assertEquals(0, r.wm0.opackets() + r.wm1.opackets());
      assertCleanShutdown(r.m);
    }
  }

  /** t_forwarding: with net.inet.ip.forwarding=0 the pings across the router fail. */
  @Test
  void forwardingOffForwardsNothing() {
    try (Router r = new Router()) {
      r.net.setForwarding(false);
      r.send(0, "10.1.0.5", 64);
      r.send(1, "10.1.0.6", 64);
      IpStat st = r.awaitTotal(2);
      assertEquals(2, st.cantforward());
      assertEquals(0, st.forwarded());
      assertEquals(0, r.wm1.opackets());

      r.net.setForwarding(true);
      r.send(0, "10.1.0.5", 64);
      assertEquals(1, r.awaitTotal(3).forwarded());
      assertCleanShutdown(r.m);
    }
  }

  @Test
  void outputInterfaceDownCannotForward() {
    try (Router r = new Router()) {
      r.wm1.setUp(false);
      r.send(0, "10.1.0.5", 64);
      IpStat st = r.awaitTotal(1);
      assertEquals(1, st.cantforward());
      assertEquals(0, r.wm1.opackets());
      r.wm1.setUp(true);
      r.send(0, "10.1.0.5", 64);
      assertEquals(1, r.awaitTotal(2).forwarded());
      assertEquals(1, r.wm1.opackets());
      assertCleanShutdown(r.m);
    }
  }

  /**
   * A packet for one of the router's own addresses is delivered (ip_input's "ours" check comes
   * before anything about forwarding): whatever its TTL, and with forwarding off.
   */
  @Test
  void aPacketToTheRoutersOwnAddressIsDelivered() {
    try (Router r = new Router()) {
      r.send(0, "10.1.0.1", 64);
      r.send(1, "10.0.0.1", 64);
      assertEquals(2, r.awaitTotal(2).delivered());
      r.send(0, "10.1.0.1", 1);
      IpStat st = r.awaitTotal(3);
      assertEquals(3, st.delivered(), "TTL is checked only when forwarding: " + st);
      r.net.setForwarding(false);
      r.send(1, "10.0.0.1", 64);
      st = r.awaitTotal(4);
      assertEquals(4, st.delivered(), "forwarding off does not stop local delivery: " + st);
      assertEquals(0, st.forwarded() + st.cantforward() + st.timeexceeded());
      assertEquals(0, r.wm0.opackets() + r.wm1.opackets());
      assertCleanShutdown(r.m);
    }
  }

  /**
   * A static route through an address that has been deleted: the ifaddr is destroyed (psref)
   * but kept (ifa_refcnt) by the route. NetBSD's ip_output checks ifa_is_destroying before
   * ifa_acquire and counts noroute; the route's deletion finally frees the ifaddr.
   */
  @Test
  void aStaticRouteThroughADeletedAddressIsNoroute() {
    try (Router r = new Router()) {
      ifconfig(r.m, r.net, r.wm1, "10.2.0.1", 24);
      Ifaddr extra = ifaddr(r.net, "10.2.0.1");
      assertEquals(0, routeAdd(r.m, r.net, "172.16.0.0", 16, "10.2.0.254", "10.2.0.1"));
      r.send(0, "172.16.1.1", 64);
      assertEquals(1, r.awaitTotal(1).forwarded());

      assertEquals(0, ifconfigDelete(r.m, r.net, r.wm1, "10.2.0.1"));
      assertEquals(1, r.net.addrs().destroys());
      assertFalse(extra.isFreed(), "still referenced by the static route");
      r.send(0, "172.16.1.1", 64);
      r.send(1, "172.16.1.2", 64);
      IpStat st = r.awaitTotal(3);
      assertEquals(2, st.noroute(), st.toString());
      assertEquals(1, st.forwarded());

      assertEquals(0, routeDelete(r.m, r.net, "172.16.0.0", 16));
      assertTrue(extra.isFreed(), "the route held the last ifa_refcnt");
      assertCleanShutdown(r.m);
    }
  }

  /** Death test: ip_forward's KASSERTMSG, called from thread context instead of the softint. */
  @Test
  void ipForwardNotInTheSoftwareInterruptHandlerPanics() {
    try (Router r = new Router()) {
      Packet p = new Packet();
      p.dst = ip("10.1.0.5");
      p.ttl = 64;
      p.rcvif = r.wm0;
      assertThrows(KernelPanic.class, () -> r.m.run("ipfwd", () -> {
        int bound = Kern.curlwpBind();
        r.net.ip.ipForward(p, Kern.curcpu(), new Psref(), new Psref(), new long[6]);
        Kern.curlwpBindx(bound);
      }));
      assertEquals("kernel diagnostic assertion \"cpu_softintr_p()\" failed: "
          + "file \"sys/netinet/ip_input.c\", line 1277 "
          + "ip_forward: not in the software interrupt handler; synchronization assumptions "
          + "violated", r.m.panic().orElseThrow().message());
      assertEquals("ipfwd", r.m.panic().get().lwp());
      assertEquals(0, r.wm1.opackets(), "nothing transmitted");
      assertEquals(List.of(), r.m.shutdown());
    }
  }

  /** The same assertion in a kernel thread bound to a CPU: still not a softint. */
  @Test
  void ipForwardInABoundKthreadPanicsToo() throws InterruptedException {
    try (Router r = new Router()) {
      Packet p = new Packet();
      p.dst = ip("10.1.0.5");
      p.ttl = 64;
      r.m.kthreadCreate(Pri.PRI_KTHREAD, 0, r.m.cpu(1),
          () -> r.net.ip.ipForward(p, Kern.curcpu(), new Psref(), new Psref(), new long[6]), "fwd/1");
      assertTrue(r.m.awaitStop(LIMIT));
      assertTrue(r.m.panic().orElseThrow().message().endsWith(
          "ip_forward: not in the software interrupt handler; synchronization assumptions "
              + "violated"));
      assertEquals(1, r.m.panic().get().cpu());
      assertEquals("fwd/1", r.m.panic().get().lwp());
      assertEquals(List.of(), r.m.shutdown());
    }
  }
}
