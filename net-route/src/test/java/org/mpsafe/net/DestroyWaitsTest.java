package org.mpsafe.net;

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

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.xcall.Xcall;

/**
 * psref_target_destroy waits for the forwarding path: a passive reference held on CPU 1 (by a
 * bound LWP, as ip_forward holds one in the softint) keeps the deleting LWP's rt_free or
 * ifa_remove waiting until it is released — and only that long.
 */
class DestroyWaitsTest {

  /** {@code ifconfig wm0 addr delete} in its own LWP; the errno lands in {@code result}. */
  private static Lwp deleteInBackground(Machine m, NetStack net, Ifnet ifp, String addr,
      AtomicInteger result) {
    return m.kthreadCreate(Pri.PRI_USER, 0, null,
        () -> result.set(net.inControl(ifp, Inet.SIOCDIFADDR, ip(addr), 0)), "ifconfig");
  }

  @Test
  void aRoutePsrefHeldOnAnotherCpuKeepsRtFreeWaitingUntilReleased() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      Ifaddr ia = ifaddr(net, "10.0.0.1");
      PsrefHolder<Rtentry> h = PsrefHolder.route(m, net, "10.0.0.5");
      Rtentry rt = h.held.get();
      assertSame(exact(m, net, "10.0.0.0", 24), rt);

      AtomicInteger result = new AtomicInteger(-1);
      Lwp deleter = deleteInBackground(m, net, wm0, "10.0.0.1", result);
      // The deleter is in rt_free's psref_target_destroy: draining, asleep between rounds.
      await().atMost(LIMIT).until(() -> rt.psrefTarget().draining()
          && deleter.state() == Lwp.State.SLEEP);
      assertEquals(-1, result.get(), "in_control returned while CPU 1 held the route");
      assertNull(exact(m, net, "10.0.0.0", 24), "unlinked before the drain");
      assertNotNull(rt.psrefTarget().prtClass(), "not destroyed while held");
      assertFalse(rt.isFreed());
      assertEquals(0, net.rt().destroys());
      assertEquals(0, net.addrs().destroys());
      assertFalse(ia.isFreed());

      h.release(m);
      await().atMost(LIMIT).until(() -> deleter.state() == Lwp.State.ZOMBIE);
      assertEquals(0, result.get());
      assertFalse(h.holding.get());
      assertNull(rt.psrefTarget().prtClass());
      assertTrue(rt.isFreed());
      assertTrue(ia.isFreed());
      assertEquals(2, net.rt().destroys());
      assertEquals(1, net.addrs().destroys());
      assertEquals(0, Xcall.of(m).earlyReturns());
      assertCleanShutdown(m);
    }
  }

  /**
   * Routes first, then the address (in_purgeaddr's order): with a psref held on the ifaddr,
   * both routes are destroyed and ifa_remove waits.
   */
  @Test
  void anIfaddrPsrefHeldOnAnotherCpuKeepsIfaRemoveWaitingAfterTheRoutesAreGone() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      PsrefHolder<Ifaddr> h = PsrefHolder.ifaddr(m, net, "10.0.0.1");
      Ifaddr ia = h.held.get();
      assertSame(ifaddr(net, "10.0.0.1"), ia);

      AtomicInteger result = new AtomicInteger(-1);
      Lwp deleter = deleteInBackground(m, net, wm0, "10.0.0.1", result);
      await().atMost(LIMIT).until(() -> net.rt().destroys() == 2
          && ia.psrefTarget().draining() && deleter.state() == Lwp.State.SLEEP);
      assertEquals(-1, result.get());
      assertEquals(0, net.addrs().destroys());
      assertNotNull(ia.psrefTarget().prtClass());
      assertFalse(ia.isFreed());
      assertEquals(0, net.rt().size());

      h.release(m);
      await().atMost(LIMIT).until(() -> deleter.state() == Lwp.State.ZOMBIE);
      assertEquals(0, result.get());
      assertEquals(1, net.addrs().destroys());
      assertNull(ia.psrefTarget().prtClass());
      assertTrue(ia.isFreed());
      assertEquals(0, Xcall.of(m).earlyReturns());
      assertCleanShutdown(m);
    }
  }

  /** IFNET_LOCK: a second in_control on the same interface waits behind the draining one. */
  @Test
  void inControlOnTheSameInterfaceWaitsForTheDrainingDeletion() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      PsrefHolder<Rtentry> h = PsrefHolder.route(m, net, "10.0.0.5");
      AtomicInteger result = new AtomicInteger(-1);
      Lwp deleter = deleteInBackground(m, net, wm0, "10.0.0.1", result);
      await().atMost(LIMIT).until(() -> h.held.get().psrefTarget().draining());

      AtomicInteger readd = new AtomicInteger(-1);
      Lwp adder = m.kthreadCreate(Pri.PRI_USER, 0, null,
          () -> readd.set(net.inControl(wm0, Inet.SIOCAIFADDR, ip("10.0.0.1"), 24)), "ifconfig2");
      await().atMost(LIMIT).until(() -> adder.state() == Lwp.State.SLEEP
          && "wm0 ioctl".equals(adder.wchan()));
      // Another interface is not blocked.
      ifconfig(m, net, wm1, "10.1.0.1", 24);
      assertEquals(-1, readd.get());

      h.release(m);
      await().atMost(LIMIT).until(() -> deleter.state() == Lwp.State.ZOMBIE
          && adder.state() == Lwp.State.ZOMBIE);
      assertEquals(0, result.get());
      assertEquals(0, readd.get(), "re-added after the deletion completed");
      assertNotNull(exact(m, net, "10.0.0.0", 24));
      assertCleanShutdown(m);
    }
  }
}
