package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.exact;
import static org.mpsafe.net.NetFixture.ifaddr;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ifconfigDelete;
import static org.mpsafe.net.NetFixture.ip;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.KernelPanic;
import org.mpsafe.kern.Machine;

/**
 * {@code in_control(SIOCAIFADDR/SIOCDIFADDR)} and {@code in_purgeaddr}: the route and ifaddr
 * lifetimes of NetBSD's {@code tests/net/net/t_ipaddress.sh} (ipaddr_same_address), checked on
 * the objects rather than through {@code netstat -rn}, plus the errno values in_control returns.
 */
class InControlTest {

  @Test
  void addingAnAddressInstallsTheConnectedAndTheLocalRoute() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet shmif0 = net.ifAttach("shmif0");
      ifconfig(m, net, shmif0, "10.0.0.1", 24);

      Ifaddr ia = ifaddr(net, "10.0.0.1");
      assertNotNull(ia);
      assertEquals(List.of(ia), net.addrs().addresses(shmif0));
      assertEquals(1, net.addrs().added());

      // 10.0.0/24 "U" on shmif0: the connected route, owned by the address (IFA_ROUTE).
      Rtentry net24 = exact(m, net, "10.0.0.0", 24);
      assertNotNull(net24, "connected route 10.0.0.0/24");
      assertEquals(Rtentry.RTF_UP | Rtentry.RTF_CONNECTED, net24.flags());
      assertSame(shmif0, net24.ifp());
      assertSame(ia, net24.ifa());
      assertTrue((ia.flags & Ifaddr.IFA_ROUTE) != 0);

      // 10.0.0.1 "UHl": the local host route.
      Rtentry host = exact(m, net, "10.0.0.1", 32);
      assertNotNull(host, "local route 10.0.0.1/32");
      assertEquals(Rtentry.RTF_UP | Rtentry.RTF_HOST | Rtentry.RTF_LOCAL, host.flags());
      assertSame(ia, host.ifa());

      assertEquals(2, net.rt().size());
      assertSame(net.rt().rtPsrefClass, net24.psrefTarget().prtClass());
      assertSame(net.addrs().ifaPsrefClass, ia.psrefTarget().prtClass());
      assertEquals(0, net.rt().destroys());
      assertEquals(0, net.addrs().destroys());
      assertCleanShutdown(m);
    }
  }

  @Test
  void deletingAnAddressDestroysBothRoutesAndTheIfaddrThroughPsref() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet shmif0 = net.ifAttach("shmif0");
      ifconfig(m, net, shmif0, "10.0.0.1", 24);
      Ifaddr ia = ifaddr(net, "10.0.0.1");
      Rtentry net24 = exact(m, net, "10.0.0.0", 24);
      Rtentry host = exact(m, net, "10.0.0.1", 32);

      assertEquals(0, ifconfigDelete(m, net, shmif0, "10.0.0.1"));

      assertNull(exact(m, net, "10.0.0.0", 24));
      assertNull(exact(m, net, "10.0.0.1", 32));
      assertEquals(0, net.rt().size());
      assertEquals(List.of(), net.addrs().addresses(shmif0));
      assertEquals(2, net.rt().destroys(), "connected + local rtentry destroyed");
      assertEquals(1, net.addrs().destroys(), "ifaddr destroyed");
      assertEquals(1, net.addrs().deleted());
      // psref_target_destroy ends with prt_class = NULL; the objects are then freed.
      assertNull(net24.psrefTarget().prtClass());
      assertNull(host.psrefTarget().prtClass());
      assertNull(ia.psrefTarget().prtClass());
      assertTrue(net24.isFreed());
      assertTrue(host.isFreed());
      assertTrue(ia.isFreed());
      assertCleanShutdown(m);
    }
  }

  /** Death test: {@code use of freed rtentry}. */
  @Test
  void useOfFreedRtentryPanics() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet shmif0 = net.ifAttach("shmif0");
      ifconfig(m, net, shmif0, "10.0.0.1", 24);
      Rtentry net24 = exact(m, net, "10.0.0.0", 24);
      assertEquals(0, ifconfigDelete(m, net, shmif0, "10.0.0.1"));

      assertThrows(KernelPanic.class, () -> m.run("stale", net24::ifa));
      String msg = m.panic().orElseThrow().message();
      assertTrue(msg.startsWith("use of freed rtentry ") && msg.endsWith("(10.0.0.0/24)"), msg);
      assertEquals("stale", m.panic().get().lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** Death test: {@code use of freed ifaddr}. */
  @Test
  void useOfFreedIfaddrPanics() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet shmif0 = net.ifAttach("shmif0");
      ifconfig(m, net, shmif0, "10.0.0.1", 24);
      Ifaddr ia = ifaddr(net, "10.0.0.1");
      assertEquals(0, ifconfigDelete(m, net, shmif0, "10.0.0.1"));

      assertThrows(KernelPanic.class, () -> m.run("stale", ia::ifp));
      String msg = m.panic().orElseThrow().message();
      assertTrue(msg.startsWith("use of freed ifaddr ") && msg.endsWith("(10.0.0.1/24)"), msg);
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** t_ipaddress ipaddr_same_address: add, delete, add the same address again, delete. */
  @Test
  void sameAddressCanBeAddedAgainAfterItsDeletion() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet shmif0 = net.ifAttach("shmif0");
      for (int round = 1; round <= 2; round++) {
        ifconfig(m, net, shmif0, "10.0.0.1", 24);
        Ifaddr ia = ifaddr(net, "10.0.0.1");
        Rtentry net24 = exact(m, net, "10.0.0.0", 24);
        Rtentry host = exact(m, net, "10.0.0.1", 32);
        assertNotNull(net24, "round " + round);
        assertNotNull(host, "round " + round);
        assertSame(ia, net24.ifa());
        assertFalse(ia.isFreed());

        assertEquals(0, ifconfigDelete(m, net, shmif0, "10.0.0.1"), "round " + round);
        assertNull(exact(m, net, "10.0.0.0", 24));
        assertNull(exact(m, net, "10.0.0.1", 32));
        assertTrue(ia.isFreed() && net24.isFreed() && host.isFreed());
        assertEquals(2L * round, net.rt().destroys());
        assertEquals(round, net.addrs().destroys());
      }
      assertEquals(2, net.addrs().added());
      assertEquals(2, net.addrs().deleted());
      assertCleanShutdown(m);
    }
  }

  @Test
  void errorsAreReturnedAsNetbsdDoesNeverPanics() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet shmif0 = net.ifAttach("shmif0");
      Ifnet shmif1 = net.ifAttach("shmif1");
      ifconfig(m, net, shmif0, "10.0.0.1", 24);

      assertEquals(Inet.EADDRNOTAVAIL, ifconfigDelete(m, net, shmif0, "10.0.0.2"));
      assertEquals(Inet.EADDRNOTAVAIL, ifconfigDelete(m, net, shmif1, "10.0.0.1"),
          "the address is not on shmif1");
      assertEquals(Inet.EINVAL, control(m, net, shmif0, Inet.SIOCAIFADDR, "10.0.1.1", 0));
      assertEquals(Inet.EINVAL, control(m, net, shmif0, Inet.SIOCAIFADDR, "10.0.1.1", 33));
      assertEquals(Inet.EINVAL, control(m, net, shmif0, Inet.SIOCAIFADDR, "0.0.0.0", 24));
      assertEquals(Inet.EINVAL, control(m, net, shmif0, 0x7777, "10.0.1.1", 24));

      // Nothing changed, nothing destroyed.
      assertEquals(1, net.addrs().added());
      assertEquals(2, net.rt().size());
      assertEquals(0, net.rt().destroys());
      assertEquals(0, net.addrs().destroys());
      assertEquals(0, ifconfigDelete(m, net, shmif0, "10.0.0.1"));
      assertEquals(Inet.EADDRNOTAVAIL, ifconfigDelete(m, net, shmif0, "10.0.0.1"),
          "deleting twice");
      assertCleanShutdown(m);
    }
  }

  @Test
  void addressesOfTwoInterfacesAreIndependent() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.1.0.1", 16);
      assertEquals(4, net.rt().size());
      assertSame(wm1, exact(m, net, "10.1.0.0", 16).ifp());

      assertEquals(0, ifconfigDelete(m, net, wm0, "10.0.0.1"));
      assertEquals(2, net.rt().size());
      assertNotNull(exact(m, net, "10.1.0.0", 16));
      assertNotNull(exact(m, net, "10.1.0.1", 32));
      assertFalse(ifaddr(net, "10.1.0.1").isFreed());
      assertEquals(ip("10.1.0.1"), net.addrs().addresses(wm1).get(0).addr());
      assertCleanShutdown(m);
    }
  }

  /**
   * in_purgeaddr deletes the address's own routes only (rtinit(RTM_DELETE) checks
   * {@code rt_ifa == ifa}): a static host route to the same address through another address
   * survives the deletion.
   */
  @Test
  void deletingAnAddressLeavesARouteOfAnotherAddressAlone() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      assertEquals(0, NetFixture.routeAdd(m, net, "10.9.9.9", 32, "10.0.0.254", "10.0.0.1"));
      Rtentry stat = exact(m, net, "10.9.9.9", 32);
      // The address's local route cannot be installed over the static one.
      ifconfig(m, net, wm1, "10.9.9.9", 24);
      assertSame(stat, exact(m, net, "10.9.9.9", 32));

      assertEquals(0, ifconfigDelete(m, net, wm1, "10.9.9.9"));
      assertSame(stat, exact(m, net, "10.9.9.9", 32), "the static route was deleted");
      assertFalse(stat.isFreed());
      assertSame(ifaddr(net, "10.0.0.1"), stat.ifa());
      assertEquals(1, net.rt().destroys(), "only 10.9.9.0/24 destroyed");
      assertEquals(0, NetFixture.routeDelete(m, net, "10.9.9.9", 32));
      assertEquals(0, ifconfigDelete(m, net, wm0, "10.0.0.1"));
      assertNull(ifaddr(net, "10.0.0.1"));
      assertTrue(stat.isFreed());
      assertEquals(4, net.rt().destroys());
      assertCleanShutdown(m);
    }
  }

  /**
   * NetBSD 7 in_control: SIOCAIFADDR of an address the interface already has is a change of that
   * address (hostIsNew = 0), not an error: same ifaddr, new prefix length, the connected route
   * scrubbed and installed again, the local route kept.
   */
  @Test
  void addingAnAddressTheInterfaceHasChangesItsPrefix() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      Ifaddr ia = ifaddr(net, "10.0.0.1");
      Rtentry net24 = exact(m, net, "10.0.0.0", 24);
      Rtentry host = exact(m, net, "10.0.0.1", 32);

      assertEquals(0, control(m, net, wm0, Inet.SIOCAIFADDR, "10.0.0.1", 16));
      assertEquals(List.of(ia), net.addrs().addresses(wm0), "the same ifaddr");
      assertEquals(16, ia.prefixlen());
      assertNull(exact(m, net, "10.0.0.0", 24));
      assertTrue(net24.isFreed(), "the old connected route was destroyed");
      Rtentry net16 = exact(m, net, "10.0.0.0", 16);
      assertNotNull(net16);
      assertSame(ia, net16.ifa());
      assertSame(host, exact(m, net, "10.0.0.1", 32), "the local route stays");
      assertEquals(1, net.addrs().added());
      assertEquals(1, net.rt().destroys());

      // Same length again: NetBSD scrubs and re-installs the connected route all the same.
      assertEquals(0, control(m, net, wm0, Inet.SIOCAIFADDR, "10.0.0.1", 16));
      assertTrue(net16.isFreed());
      assertSame(ia, exact(m, net, "10.0.0.0", 16).ifa());
      assertEquals(2, net.rt().size());
      assertEquals(0, ifconfigDelete(m, net, wm0, "10.0.0.1"));
      assertEquals(0, net.rt().size());
      assertEquals(List.of(), net.addrs().addresses(null));
      assertCleanShutdown(m);
    }
  }

  /**
   * The duplicate check is per interface (in_control's hash walk requires ia_ifp == ifp): the
   * same address on another interface is a second ifaddr. It gets neither route while the first
   * owns them; when the first is deleted, in_ifremlocal hands the local route to it.
   */
  @Test
  void theSameAddressOnAnotherInterfaceIsASecondIfaddr() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.0.0.1", 24);
      Ifaddr ia0 = net.addrs().addresses(wm0).get(0);
      Ifaddr ia1 = net.addrs().addresses(wm1).get(0);
      assertTrue(ia0 != ia1);
      assertEquals(2, net.addrs().added());
      assertEquals(2, net.rt().size(), "one connected and one local route");
      assertSame(ia0, exact(m, net, "10.0.0.0", 24).ifa());
      assertSame(ia0, exact(m, net, "10.0.0.1", 32).ifa());
      assertTrue((ia1.flags & Ifaddr.IFA_ROUTE) == 0, "in_addprefix: wm0's address owns it");

      assertEquals(0, ifconfigDelete(m, net, wm0, "10.0.0.1"));
      assertTrue(ia0.isFreed());
      Rtentry local = exact(m, net, "10.0.0.1", 32);
      assertNotNull(local, "the local route moved to wm1's address");
      assertSame(ia1, local.ifa());
      assertSame(wm1, local.ifp());
      assertNull(exact(m, net, "10.0.0.0", 24), "the connected route went with its address");
      assertEquals(List.of(ia1), net.addrs().addresses(null));

      assertEquals(0, ifconfigDelete(m, net, wm1, "10.0.0.1"));
      assertTrue(ia1.isFreed());
      assertEquals(0, net.rt().size());
      assertCleanShutdown(m);
    }
  }

  /**
   * Several LWPs add and delete the same address on two interfaces at once: per interface the
   * ioctl lock serialises the check and the insertion, so each interface ends with at most one
   * ifaddr of the address, and when all is deleted nothing is left and nothing panicked.
   */
  @Test
  void concurrentAddsOfOneAddressNeverGiveAnInterfaceTwoIfaddrs() throws InterruptedException {
    try (Machine m = boot(4)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      int rounds = 200;
      AtomicInteger bad = new AtomicInteger();
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Ifnet ifp = t % 2 == 0 ? wm0 : wm1;
        Thread th = new Thread(() -> m.run("ifconfig", () -> {
          for (int r = 0; r < rounds; r++) {
            if (net.inControl(ifp, Inet.SIOCAIFADDR, ip("10.0.0.1"), 24) != 0) {
              bad.incrementAndGet();
            }
            if (net.addrs().addresses(ifp).size() > 1) {
              bad.incrementAndGet();
            }
            int e = net.inControl(ifp, Inet.SIOCDIFADDR, ip("10.0.0.1"), 0);
            if (e != 0 && e != Inet.EADDRNOTAVAIL) {
              bad.incrementAndGet();
            }
          }
        }));
        ts.add(th);
        th.start();
      }
      for (Thread th : ts) {
        th.join(NetFixture.LIMIT.toMillis());
        assertFalse(th.isAlive(), th.getName());
      }
      assertEquals(0, bad.get());
      assertEquals(List.of(), net.addrs().addresses(null));
      assertEquals(0, net.rt().size());
      assertEquals(net.addrs().added(), net.addrs().deleted());
      assertEquals(net.addrs().added(), net.addrs().destroys());
      assertCleanShutdown(m);
    }
  }

  private static int control(Machine m, NetStack net, Ifnet ifp, int cmd, String a, int len) {
    return m.call("ifconfig", () -> net.inControl(ifp, cmd, ip(a), len));
  }
}
