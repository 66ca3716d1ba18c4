package org.mpsafe.net;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.LIMIT;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ip;
import static org.mpsafe.net.NetFixture.routeAdd;
import static org.mpsafe.net.NetFixture.routes;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Machine;
import org.mpsafe.xcall.Xcall;

/**
 * if_detach under forwarding traffic: every route through the interface (its addresses'
 * connected and local routes and the static "stray" routes) and every one of its ifaddrs is
 * destroyed through psref and freed; no reference is lost (no panic), and the stack goes on
 * forwarding through the other interfaces.
 */
class IfDetachTest {
  private static final long SEED = Long.getLong("ifdetach.seed", System.nanoTime());

  /** NIC-like traffic from host threads through {@link NetStack#input}, one per CPU. */
  private static final class Traffic {
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stop;

    /** Packets to random hosts {@code nets[j] | (1..254 & hostMask[j])}. */
    Traffic(Machine m, NetStack net, Ifnet rcvif, int[] nets, int[] hostMask, long seed) {
      SplittableRandom seeds = new SplittableRandom(seed);
      for (int c = 0; c < m.ncpu(); c++) {
        int cpu = c;
        SplittableRandom rnd = seeds.split();
        Thread t = new Thread(() -> {
          while (!stop && m.running()) {
            for (int k = 0; k < 32; k++) {
              int j = rnd.nextInt(nets.length);
              int dst = nets[j] | (rnd.nextInt(1, 255) & hostMask[j]);
              net.input(m.cpu(cpu), rcvif, dst, 64);
            }
            LockSupport.parkNanos(50_000);   // pacing (a NIC's inter-burst gap), not a wait
          }
        }, "nic/" + c);
        t.setDaemon(true);
        threads.add(t);
      }
      threads.forEach(Thread::start);
    }

    void stop() throws InterruptedException {
      stop = true;
      for (Thread t : threads) {
        t.join(LIMIT.toMillis());
        assertFalse(t.isAlive(), t.getName());
      }
    }
  }

  @Test
  void detachUnderTrafficDestroysAndFreesEveryRouteAndIfaddrOfTheInterface()
      throws InterruptedException {
    System.out.println("IfDetachTest seed: " + SEED + " (rerun with -Difdetach.seed=" + SEED + ")");
    try (Machine m = boot(4)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      Ifnet wm2 = net.ifAttach("wm2");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.1.0.1", 24);
      ifconfig(m, net, wm1, "10.1.1.1", 24);
      ifconfig(m, net, wm1, "10.1.2.1", 24);
      ifconfig(m, net, wm2, "10.2.0.1", 24);
      assertEquals(0, routeAdd(m, net, "172.16.0.0", 16, "10.1.0.254", "10.1.0.1"));
      assertEquals(0, routeAdd(m, net, "172.18.0.7", 32, "10.1.2.254", "10.1.2.1"));
      assertEquals(0, routeAdd(m, net, "172.17.0.0", 16, "10.2.0.254", "10.2.0.1"));

      List<Rtentry> wm1Routes = new ArrayList<>();
      for (Rtentry rt : routes(m, net)) {
        if (rt.rtIfp == wm1) {
          wm1Routes.add(rt);
        }
      }
      List<Ifaddr> wm1Addrs = net.addrs().addresses(wm1);
      assertEquals(8, wm1Routes.size(), "3 connected + 3 local + 2 static: " + wm1Routes);
      assertEquals(3, wm1Addrs.size());

      int[] nets = {ip("10.1.0.0"), ip("10.1.1.0"), ip("10.1.2.0"), ip("172.16.3.0"),
          ip("172.18.0.7"), ip("10.2.0.0"), ip("172.17.9.0")};
      int[] hostMask = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF};
      Traffic traffic = new Traffic(m, net, wm0, nets, hostMask, SEED);
      await().atMost(LIMIT).until(() -> !m.running()
          || (wm1.opackets() > 2_000 && wm2.opackets() > 2_000));
      assertTrue(m.running(), () -> "unexpected " + m.panic().orElse(null));

      m.run("detach", () -> net.ifDetach(wm1));

      assertTrue(m.running(), () -> "unexpected " + m.panic().orElse(null));
      assertTrue(wm1.isDetached());
      assertFalse(wm1.isUp());
      assertFalse(net.ifnets().contains(wm1));
      assertEquals(List.of(), net.addrs().addresses(wm1));
      for (Rtentry rt : routes(m, net)) {
        assertFalse(rt.rtIfp == wm1, "route left through the detached interface: " + rt);
      }
      for (Rtentry rt : wm1Routes) {
        assertNull(rt.psrefTarget().prtClass(), "not destroyed: " + rt);
        assertTrue(rt.isFreed(), "not freed: " + rt);
      }
      for (Ifaddr ia : wm1Addrs) {
        assertNull(ia.psrefTarget().prtClass(), "not destroyed: " + ia);
        assertTrue(ia.isFreed(), "not freed: " + ia);
      }
      assertEquals(wm1Routes.size(), net.rt().destroys());
      assertEquals(wm1Addrs.size(), net.addrs().destroys());

      // The rest of the stack still forwards; wm1's destinations have no route now.
      long noroute = net.ipstat().noroute();
      long out2 = wm2.opackets();
      long out1 = wm1.opackets();
      await().atMost(LIMIT).until(() -> !m.running()
          || (net.ipstat().noroute() > noroute + 1_000 && wm2.opackets() > out2 + 1_000));
      traffic.stop();
      assertTrue(m.running(), () -> "unexpected " + m.panic().orElse(null));
      assertEquals(0, Xcall.of(m).earlyReturns());
      IpStat st = net.ipstat();
      System.out.printf("IfDetachTest: %d packets, %d forwarded (wm1 %d until detach, +%d "
          + "after), %d noroute, %d cantforward%n", st.total(), st.forwarded(), out1,
          wm1.opackets() - out1, st.noroute(), st.cantforward());
      assertCleanShutdown(m);
    }
  }

  @Test
  void detachOfAnIdleInterfaceLeavesTheOthersAlone() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.1.0.1", 24);
      assertEquals(0, routeAdd(m, net, "0.0.0.0", 0, "10.0.0.254", "10.0.0.1"));
      m.run("detach", () -> net.ifDetach(wm1));
      assertEquals(2, net.rt().destroys());
      assertEquals(1, net.addrs().destroys());
      assertEquals(3, net.rt().size(), "wm0's connected, local and default routes");
      assertEquals(List.of(wm0), net.ifnets());
      // doifioctl: ifunit() no longer finds it, if_nullioctl answers a late caller: ENXIO.
      assertEquals(Inet.ENXIO,
          (int) m.call("ifconfig", () -> net.inControl(wm1, Inet.SIOCAIFADDR, ip("10.1.0.1"), 24)),
          "a detached interface takes no address");
      assertEquals(Inet.ENXIO,
          (int) m.call("ifconfig", () -> net.inControl(wm1, Inet.SIOCDIFADDR, ip("10.1.0.1"), 0)),
          "nor deletes one");
      assertEquals(3, net.rt().size(), "nothing added");
      assertEquals(2, net.addrs().added(), "wm0's and wm1's before the detach, nothing since");
      assertCleanShutdown(m);
    }
  }
}
