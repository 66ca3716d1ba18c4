package org.mpsafe.net;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.LIMIT;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.exact;
import static org.mpsafe.net.NetFixture.ifaddr;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ip;
import static org.mpsafe.net.NetFixture.routeAdd;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.xcall.Xcall;

/**
 * rt_free with {@link RtLookup#PSERIALIZE} ({@link RtFree} notes, "Batched rt_free"): a deleter in
 * thread context hands the route to the rt_free thread and returns; the thread frees every route
 * it finds queued after one pserialize barrier (R1); in_purgeaddr waits for the queue before
 * ifa_remove (R2); a full queue makes the deleter wait (R3); NetStack.destroy loses no free.
 *
 * <p>A bound LWP on CPU 1 holding a route's psref keeps the rt_free thread inside that route's
 * psref_target_destroy for as long as the test wants: everything queued meanwhile is the next
 * run's batch.
 */
class BatchedRtFreeTest {

  /**
   * Deletes the held route: the rt_free thread takes it as a run of its own and stays in its
   * psref_target_destroy, so what is deleted next queues behind it.
   */
  private static void deleteHeld(Machine m, NetStack net, PsrefHolder<Rtentry> h, String dst,
      int len) {
    assertEquals(0, NetFixture.routeDelete(m, net, dst, len));
    await().atMost(LIMIT).until(() -> h.held.get().psrefTarget().draining());
  }

  /** 172.16.0.{@code i}/32 through 10.0.0.254. */
  private static String host(int i) {
    return "172.16." + (i >> 8) + "." + (i & 0xff);
  }

  /** wm0 10.0.0.1/24 and {@code n} host routes through 10.0.0.254, with PSERIALIZE. */
  private static NetStack stack(Machine m, int n) {
    NetStack net = NetStack.create(m);
    Ifnet wm0 = net.ifAttach("wm0");
    ifconfig(m, net, wm0, "10.0.0.1", 24);
    m.run("route", () -> {
      for (int i = 0; i < n; i++) {
        assertEquals(0, net.rt().rtrequestAdd(ip(host(i)), 32, ip("10.0.0.254"),
            Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY | Rtentry.RTF_HOST));
      }
    });
    return net;
  }

  @Test
  void deletesReturnBeforeTheDrainAndShareOneBarrierPerRun() {
    try (Machine m = boot(2, RtLookup.PSERIALIZE)) {
      int n = 20;
      NetStack net = stack(m, n);
      PsrefHolder<Rtentry> h = PsrefHolder.route(m, net, host(0));
      Rtentry first = h.held.get();

      // Every delete returns although route 0's psref is held: the rt_free thread drains it.
      deleteHeld(m, net, h, host(0), 32);
      m.run("route", () -> {
        for (int i = 1; i < n; i++) {
          assertEquals(0, net.rt().rtDelete(ip(host(i)), 32));
        }
      });
      for (int i = 0; i < n; i++) {
        assertNull(exact(m, net, host(i), 32), "unpublished at once");
      }
      assertEquals(n - 1, m.call("ps", () -> net.rt().rtFreeWq.queueLength()));
      assertEquals(0, net.rt().destroys());
      assertEquals(1, net.rt().rtFreeBarriers(), "the run that holds route 0 had one barrier");
      assertFalse(first.isFreed());

      long rounds0 = m.call("xc", () -> Xcall.of(m).lowpriCount());
      h.release(m);
      m.run("rt_free", net.rt()::rtFreeDrain);
      assertEquals(n, net.rt().destroys());
      // psreffed_p rounds since the release: at most two more for route 0 (one may have been
      // in flight, seeing it still held) and ONE for the n - 1 routes of the second run
      // (Psrefs.targetDestroyAll); one per route would be n - 1 = 19.
      long rounds = m.call("xc", () -> Xcall.of(m).lowpriCount()) - rounds0;
      assertTrue(rounds <= 3, "drain rounds after the release: " + rounds);
      // Route 0's run and one run for the n - 1 queued behind it; R1 (checked in RtFree.destroy)
      // held for each of the n routes, or the machine would have panicked.
      assertEquals(2, net.rt().rtFreeBarriers());
      assertTrue(first.isFreed());
      assertCleanShutdown(m);
    }
  }

  @Test
  void aFullQueueMakesTheDeleterWait() {
    try (Machine m = boot(2, RtLookup.PSERIALIZE)) {
      int n = RtFree.RT_FREE_QUEUE_MAX + 40;
      NetStack net = stack(m, n);
      PsrefHolder<Rtentry> h = PsrefHolder.route(m, net, host(0));
      Rtentry first = h.held.get();

      deleteHeld(m, net, h, host(0), 32);
      AtomicInteger deleted = new AtomicInteger(1);
      Lwp deleter = m.kthreadCreate(Pri.PRI_USER, 0, null, () -> {
        for (int i = 1; i < n; i++) {
          assertEquals(0, net.rt().rtDelete(ip(host(i)), 32));
          deleted.incrementAndGet();
        }
      }, "route");
      // The rt_free thread is in route 0's run; the deleter fills the queue to
      // RT_FREE_QUEUE_MAX, then sleeps on rt_free's cv.
      await().atMost(LIMIT).until(() -> deleter.state() == Lwp.State.SLEEP
          && "rtentry".equals(deleter.wchan()));
      assertEquals(RtFree.RT_FREE_QUEUE_MAX,
          m.call("ps", () -> net.rt().rtFreeWq.queueLength()));
      assertEquals(1 + RtFree.RT_FREE_QUEUE_MAX, deleted.get());
      assertTrue(first.psrefTarget().draining());
      assertEquals(0, net.rt().destroys());

      h.release(m);
      await().atMost(LIMIT).until(() -> deleter.state() == Lwp.State.ZOMBIE);
      assertEquals(n, deleted.get());
      m.run("rt_free", net.rt()::rtFreeDrain);
      assertEquals(n, net.rt().destroys());
      assertEquals(0, m.call("ps", () -> net.rt().rtFreeWq.queueLength()));
      assertCleanShutdown(m);
    }
  }

  /**
   * R2: a static route through 10.0.0.1 is queued for rt_free (its psref held on CPU 1) when
   * the address is deleted; in_purgeaddr deletes the address's own routes, then waits for the
   * queue, and ifa_remove starts only once the static route is freed. Without the wait
   * ifa_remove would run with the route still queued (the R2 KASSERT).
   */
  @Test
  void inPurgeaddrWaitsForQueuedRoutesThroughItsAddressBeforeIfaRemove() {
    try (Machine m = boot(2, RtLookup.PSERIALIZE)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      Ifaddr ia = ifaddr(net, "10.0.0.1");
      assertEquals(0, routeAdd(m, net, "172.20.0.0", 16, "10.0.0.254", "10.0.0.1"));
      PsrefHolder<Rtentry> h = PsrefHolder.route(m, net, "172.20.0.5");
      Rtentry stat = h.held.get();
      deleteHeld(m, net, h, "172.20.0.0", 16);

      AtomicInteger result = new AtomicInteger(-1);
      Lwp purger = m.kthreadCreate(Pri.PRI_USER, 0, null,
          () -> result.set(net.inControl(wm0, Inet.SIOCDIFADDR, ip("10.0.0.1"), 0)), "ifconfig");
      await().atMost(LIMIT).until(() -> m.panic().isPresent()
          || purger.state() == Lwp.State.ZOMBIE
          || purger.state() == Lwp.State.SLEEP && "rtentry".equals(purger.wchan()));
      assertTrue(m.panic().isEmpty(), () -> "unexpected " + m.panic().get());
      assertEquals(Lwp.State.SLEEP, purger.state(), "in_purgeaddr waits for rt_free");
      assertNull(exact(m, net, "10.0.0.0", 24), "the connected route is unpublished");
      assertNull(exact(m, net, "10.0.0.1", 32), "the local route is unpublished");
      assertEquals(-1, result.get());
      assertFalse(ia.psrefTarget().draining(), "ifa_remove has not started");
      assertNotNull(ia.psrefTarget().prtClass());
      assertEquals(0, net.addrs().destroys());
      assertFalse(stat.isFreed());

      h.release(m);
      await().atMost(LIMIT).until(() -> purger.state() == Lwp.State.ZOMBIE);
      assertEquals(0, result.get());
      assertTrue(stat.isFreed());
      assertEquals(3, net.rt().destroys(), "static, connected and local routes");
      assertEquals(1, net.addrs().destroys());
      assertTrue(ia.isFreed());
      assertCleanShutdown(m);
    }
  }

  /** NetStack.destroy waits for the rt_free thread: every deleted route is destroyed. */
  @Test
  void stackDestroyLosesNoQueuedFree() {
    try (Machine m = boot(2, RtLookup.PSERIALIZE)) {
      int n = 30;
      NetStack net = stack(m, n);
      PsrefHolder<Rtentry> h = PsrefHolder.route(m, net, host(0));
      m.run("route", () -> {
        for (int i = 0; i < n; i++) {
          assertEquals(0, net.rt().rtDelete(ip(host(i)), 32));
        }
      });
      AtomicBoolean destroyed = new AtomicBoolean();
      Lwp fini = m.kthreadCreate(Pri.PRI_USER, 0, null, () -> {
        net.destroy();
        destroyed.set(true);
      }, "netfini");
      await().atMost(LIMIT).until(() -> m.panic().isPresent()
          || fini.state() == Lwp.State.SLEEP && "rtentry".equals(fini.wchan()));
      assertTrue(m.panic().isEmpty(), () -> "unexpected " + m.panic().get());
      assertEquals(0, net.rt().destroys());
      assertFalse(destroyed.get());
      h.release(m);
      await().atMost(LIMIT).untilTrue(destroyed);
      assertEquals(n + 2, net.rt().destroys(), "the host routes, then wm0's two routes");
      assertEquals(1, net.addrs().destroys());
      assertCleanShutdown(m);
    }
  }
}
