package org.mpsafe.net;

import org.mpsafe.kern.KGate;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.LIMIT;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.exact;
import static org.mpsafe.net.NetFixture.ifaddr;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ip;
import static org.mpsafe.net.NetFixture.routeAdd;
import static org.mpsafe.net.NetFixture.routeDelete;
import static org.mpsafe.net.NetFixture.routeGet;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.kern.Softint;
import org.mpsafe.psref.Psref;

/**
 * The routing table: rtrequest(RTM_ADD/RTM_DELETE), longest-prefix match through
 * {@code rtalloc1_psref} and {@code rtalloc1}, and {@code rt_free}'s two paths (inline in thread
 * context, deferred to the rt_free workqueue from a softint), each waiting for its references.
 */
class RouteTableTest {

  /** Both ways of reading the table ({@link RtLookup}) give the same answers. */
  @ParameterizedTest
  @EnumSource(RtLookup.class)
  void lookupPicksTheMostSpecificRouteAndFallsBackAfterItsDeletion(RtLookup lookup) {
    try (Machine m = boot(2, lookup)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 8);
      ifconfig(m, net, wm1, "192.168.0.1", 24);
      assertEquals(0, routeAdd(m, net, "10.1.0.0", 16, "10.0.0.254", "10.0.0.1"));
      assertEquals(0, routeAdd(m, net, "10.1.2.0", 24, "192.168.0.254", "192.168.0.1"));
      assertEquals(0, routeAdd(m, net, "10.1.2.3", 32, "10.0.0.253", "10.0.0.1"));

      assertRoute(m, net, "10.1.2.3", "10.1.2.3", 32, wm0);
      assertRoute(m, net, "10.1.2.4", "10.1.2.0", 24, wm1);
      assertRoute(m, net, "10.1.9.9", "10.1.0.0", 16, wm0);
      assertRoute(m, net, "10.200.0.1", "10.0.0.0", 8, wm0);
      assertRoute(m, net, "10.0.0.1", "10.0.0.1", 32, wm0);
      assertNull(routeGet(m, net, "11.0.0.1"));
      Rtentry gw = routeGet(m, net, "10.1.2.4");
      assertEquals(ip("192.168.0.254"), gw.gateway());
      assertEquals(Rtentry.RTF_UP | Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY, gw.flags());

      assertEquals(0, routeDelete(m, net, "10.1.2.3", 32));
      assertRoute(m, net, "10.1.2.3", "10.1.2.0", 24, wm1);
      assertEquals(0, routeDelete(m, net, "10.1.2.0", 24));
      assertRoute(m, net, "10.1.2.3", "10.1.0.0", 16, wm0);
      assertEquals(0, routeDelete(m, net, "10.1.0.0", 16));
      assertRoute(m, net, "10.1.2.3", "10.0.0.0", 8, wm0);
      m.run("rt_free", net.rt()::rtFreeDrain);   // PSERIALIZE's deletes free in rt_free
      assertEquals(3, net.rt().destroys());

      // A default route catches everything else; the refcounted lookup agrees.
      assertEquals(0, routeAdd(m, net, "0.0.0.0", 0, "192.168.0.254", "192.168.0.1"));
      assertRoute(m, net, "11.0.0.1", "0.0.0.0", 0, wm1);
      Rtentry viaRefcnt = m.call("rtalloc1", () -> {
        Rtentry rt = net.rt().rtalloc1(ip("10.1.2.3"));
        net.rt().rtUnref(rt);
        return rt;
      });
      assertSame(exact(m, net, "10.0.0.0", 8), viaRefcnt);
      assertCleanShutdown(m);
    }
  }

  /**
   * rtrequest(RTM_ADD) without an ifaddr takes it from the gateway (rt_getifa →
   * ifa_ifwithroute): the most specific connected subnet holding the gateway gives rt_ifa and
   * rt_ifp.
   */
  @Test
  void routeAddTakesItsInterfaceFromTheGatewaysSubnet() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 8);
      ifconfig(m, net, wm1, "10.1.0.1", 16);
      int gwFlags = Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY;
      assertEquals(0, m.call("route", () -> net.rt().rtrequestAdd(ip("172.16.0.0"), 16,
          ip("10.1.2.3"), gwFlags)));
      Rtentry viaWm1 = exact(m, net, "172.16.0.0", 16);
      assertSame(ifaddr(net, "10.1.0.1"), viaWm1.ifa(), "10.1/16 is more specific than 10/8");
      assertSame(wm1, viaWm1.ifp());
      assertEquals(ip("10.1.2.3"), viaWm1.gateway());
      assertEquals(Rtentry.RTF_UP | gwFlags, viaWm1.flags());

      assertEquals(0, m.call("route", () -> net.rt().rtrequestAdd(ip("172.17.0.0"), 16,
          ip("10.200.0.9"), gwFlags)));
      assertSame(wm0, exact(m, net, "172.17.0.0", 16).ifp());

      // route add -interface: no RTF_GATEWAY, the "gateway" is the interface's own address.
      assertEquals(0, m.call("route", () -> net.rt().rtrequestAdd(ip("172.18.0.0"), 16,
          ip("10.1.0.1"), Rtentry.RTF_STATIC)));
      assertSame(ifaddr(net, "10.1.0.1"), exact(m, net, "172.18.0.0", 16).ifa());

      // The route holds an ifa_refcnt: deleting the address leaves the static route alone,
      // and only the last route's rt_free frees the ifaddr.
      Ifaddr ia1 = ifaddr(net, "10.1.0.1");
      assertEquals(0, NetFixture.ifconfigDelete(m, net, wm1, "10.1.0.1"));
      assertFalse(ia1.isFreed());
      assertEquals(0, routeDelete(m, net, "172.16.0.0", 16));
      assertFalse(ia1.isFreed());
      assertEquals(0, routeDelete(m, net, "172.18.0.0", 16));
      assertTrue(ia1.isFreed());
      assertCleanShutdown(m);
    }
  }

  /**
   * A gateway that no connected subnet reaches, while no route covers the destination either:
   * ENETUNREACH ("route add: Network is unreachable"), and nothing is added or referenced. The
   * same for a gateway reachable only through a detached interface.
   */
  @Test
  void routeAddThroughAnUnreachableGatewayIsEnetunreach() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.1.0.1", 24);
      int gwFlags = Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY;
      assertEquals(Inet.ENETUNREACH, m.call("route", () -> net.rt().rtrequestAdd(
          ip("172.16.0.0"), 16, ip("10.9.0.254"), gwFlags)));
      assertEquals(Inet.ENETUNREACH, m.call("route", () -> net.rt().rtrequestAdd(
          ip("172.16.0.0"), 16, ip("10.9.0.1"), Rtentry.RTF_STATIC)), "-interface: no such address");
      assertNull(exact(m, net, "172.16.0.0", 16));
      assertEquals(4, net.rt().size());
      assertEquals(3, ifaddr(net, "10.0.0.1").refcnt, "the list's reference and its two routes'");

      m.run("detach", () -> net.ifDetach(wm1));
      assertEquals(Inet.ENETUNREACH, m.call("route", () -> net.rt().rtrequestAdd(
          ip("172.16.0.0"), 16, ip("10.1.0.254"), gwFlags)), "wm1 is detached");
      assertEquals(2, net.rt().size());
      assertCleanShutdown(m);
    }
  }

  /**
   * ifa_ifwithroute's last resort, as in NetBSD 7: a gateway outside every connected subnet is
   * accepted when the destination already has a route (here the default route); the new route
   * takes that route's ifaddr.
   */
  @Test
  void routeAddFallsBackToTheRouteTheDestinationAlreadyTakes() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      int gwFlags = Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY;
      assertEquals(Inet.ENETUNREACH, m.call("route", () -> net.rt().rtrequestAdd(
          ip("172.16.0.0"), 16, ip("192.0.2.1"), gwFlags)));
      assertEquals(0, routeAdd(m, net, "0.0.0.0", 0, "10.0.0.254", "10.0.0.1"));
      assertEquals(0, m.call("route", () -> net.rt().rtrequestAdd(
          ip("172.16.0.0"), 16, ip("192.0.2.1"), gwFlags)));
      assertSame(ifaddr(net, "10.0.0.1"), exact(m, net, "172.16.0.0", 16).ifa());
      assertCleanShutdown(m);
    }
  }

  @Test
  void rtrequestErrors() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      assertEquals(0, routeAdd(m, net, "172.16.0.0", 12, "10.0.0.254", "10.0.0.1"));
      assertEquals(Inet.EEXIST, routeAdd(m, net, "172.16.0.0", 12, "10.0.0.253", "10.0.0.1"));
      assertEquals(Inet.EEXIST, routeAdd(m, net, "172.16.5.5", 12, "10.0.0.253", "10.0.0.1"),
          "same prefix once masked");
      assertEquals(Inet.EEXIST, routeAdd(m, net, "10.0.0.0", 24, null, "10.0.0.1"),
          "the connected route");
      assertEquals(Inet.EINVAL, routeAdd(m, net, "172.16.0.0", 33, null, "10.0.0.1"));
      assertEquals(Inet.EINVAL, routeAdd(m, net, "172.16.0.0", -1, null, "10.0.0.1"));
      assertEquals(Inet.ESRCH, routeDelete(m, net, "172.32.0.0", 12));
      assertEquals(Inet.ESRCH, routeDelete(m, net, "172.16.0.0", 16), "wrong length");
      assertEquals(3, net.rt().size());
      assertEquals(0, net.rt().destroys());
      assertEquals(0, routeDelete(m, net, "172.16.0.0", 12));
      assertEquals(Inet.ESRCH, routeDelete(m, net, "172.16.0.0", 12));
      assertEquals(1, net.rt().destroys());
      assertCleanShutdown(m);
    }
  }

  /** rt_free waits for rt_refcnt: a refcounted holder (rtalloc1) may sleep with its reference. */
  @Test
  void rtFreeWaitsForARefcountedHolder() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      assertEquals(0, routeAdd(m, net, "172.16.0.0", 16, "10.0.0.254", "10.0.0.1"));
      Rtentry rt = exact(m, net, "172.16.0.0", 16);
      KGate gate = new KGate();
      AtomicBoolean holding = new AtomicBoolean();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Rtentry r = net.rt().rtalloc1(ip("172.16.1.1"));
        holding.set(true);
        gate.pass();
        net.rt().rtUnref(r);
        holding.set(false);
      }, "holder");
      await().atMost(LIMIT).until(() -> holding.get() && gate.occupied());

      AtomicBoolean deleted = new AtomicBoolean();
      Lwp deleter = m.kthreadCreate(Pri.PRI_USER, 0, null, () -> {
        assertEquals(0, net.rt().rtDelete(ip("172.16.0.0"), 16));
        deleted.set(true);
      }, "route");
      await().atMost(LIMIT).until(() -> deleter.state() == Lwp.State.SLEEP
          && "rtentry".equals(deleter.wchan()));
      assertNull(exact(m, net, "172.16.0.0", 16), "unlinked at once");
      assertFalse(deleted.get());
      assertFalse(rt.isFreed());
      assertEquals(0, net.rt().destroys());

      m.run("opener", gate::open);
      await().atMost(LIMIT).untilTrue(deleted);
      assertTrue(rt.isFreed());
      assertNull(rt.psrefTarget().prtClass());
      assertEquals(1, net.rt().destroys());
      assertCleanShutdown(m);
    }
  }

  /**
   * rt_free from a softint must not sleep: it queues the route for the rt_free workqueue, whose
   * thread drains the psref (here held by a bound LWP) and frees it.
   */
  @Test
  void rtFreeInASoftintIsDeferredToTheWorkqueue() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      assertEquals(0, routeAdd(m, net, "172.16.0.0", 16, "10.0.0.254", "10.0.0.1"));
      Rtentry rt = exact(m, net, "172.16.0.0", 16);
      KGate gate = new KGate();
      AtomicBoolean holding = new AtomicBoolean();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        Psref ref = new Psref();
        Rtentry r = net.rt().rtalloc1Psref(ip("172.16.1.1"), ref);
        holding.set(true);
        gate.pass();
        net.rt().rtUnrefPsref(r, ref);
        holding.set(false);
      }, "holder");
      await().atMost(LIMIT).until(() -> holding.get() && gate.occupied());

      AtomicReference<String> inSoftint = new AtomicReference<>();
      Softint.Handle sih = m.softint().establish(Softint.SOFTINT_NET, () -> {
        Rtentry r = net.rt().rtrequestDelete(ip("172.16.0.0"), 16);
        net.rt().rtFree(r);
        inSoftint.set(Lwp.current().name());
      }, "rtdel");
      m.softint().scheduleCpu(sih, m.cpu(0));
      await().atMost(LIMIT).until(() -> inSoftint.get() != null);
      assertTrue(inSoftint.get().startsWith("softnet"), inSoftint.get());
      assertNull(exact(m, net, "172.16.0.0", 16));
      assertFalse(rt.isFreed());
      assertEquals(0, net.rt().destroys(), "held by psref: not destroyed yet");

      m.run("opener", gate::open);
      await().atMost(LIMIT).until(rt::isFreed);
      assertEquals(1, net.rt().destroys());
      assertNull(rt.psrefTarget().prtClass());
      assertCleanShutdown(m);
    }
  }

  private static void assertRoute(Machine m, NetStack net, String dst, String want, int len,
      Ifnet ifp) {
    Rtentry rt = routeGet(m, net, dst);
    assertNotNull(rt, "no route to " + dst);
    assertEquals(Inet.format(ip(want), len), Inet.format(rt.dst(), rt.prefixlen()),
        "route to " + dst);
    assertSame(ifp, rt.ifp(), "interface of the route to " + dst);
    assertSame(rt, exact(m, net, want, len));
    assertSame(ifaddr(net, Inet.format(rt.ifa().addr())), rt.ifa());
  }
}
