package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.exact;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ip;
import static org.mpsafe.net.NetFixture.routeAdd;
import static org.mpsafe.net.NetFixture.routeDelete;

import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;

/**
 * {@code struct route} and route.c 1.207's {@code rtcache_lookup/validate/unref}: a hit returns
 * the cached route without a table lookup, any RTM_ADD/RTM_DELETE invalidates every cache (the
 * generation), a new destination replaces the old one, and a reference is released with the LWP
 * back to its binding.
 */
class RtcacheTest {

  @Test
  void aHitReturnsTheCachedRouteAndAnyRouteChangeInvalidatesIt() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 8);
      Route ro = new Route();
      Rtcache rc = net.rt().rtcache();
      Rtentry net8 = exact(m, net, "10.0.0.0", 8);

      assertSame(net8, lookupAndUnref(m, rc, ro, "10.1.2.3"));
      assertTrue(ro.hasDst());
      assertEquals(ip("10.1.2.3"), ro.dst());
      assertSame(net8, ro.cachedRoute());
      assertSame(net8, m.call("hit", () -> {
        Rtentry rt = rc.validate(ro);
        rc.unref(rt, ro);
        return rt;
      }));

      // An unrelated RTM_ADD bumps the generation: validate refuses, lookup looks up again.
      assertEquals(0, routeAdd(m, net, "10.1.0.0", 16, "10.0.0.254", "10.0.0.1"));
      assertNull(m.call("stale", () -> rc.validate(ro)));
      Rtentry net16 = exact(m, net, "10.1.0.0", 16);
      assertSame(net16, lookupAndUnref(m, rc, ro, "10.1.2.3"));

      // Deleting the cached route: the cache never hands it out again.
      assertEquals(0, routeDelete(m, net, "10.1.0.0", 16));
      assertTrue(net16.isFreed());
      assertSame(net8, lookupAndUnref(m, rc, ro, "10.1.2.3"));

      // Another destination replaces the cached one.
      assertNull(lookupAndUnref(m, rc, ro, "11.0.0.1"));
      assertEquals(ip("11.0.0.1"), ro.dst());
      assertNull(ro.cachedRoute());
      m.run("free", () -> rc.free(ro));
      assertFalse(ro.hasDst());
      assertCleanShutdown(m);
    }
  }

  /** rtcache_ref binds an unbound LWP (ro_bound); rtcache_unref restores it. */
  @Test
  void aReferenceBindsTheLwpUntilUnref() {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      ifconfig(m, net, wm0, "10.0.0.1", 8);
      Route ro = new Route();
      Rtcache rc = net.rt().rtcache();
      boolean[] bound = new boolean[3];
      m.run("unbound", () -> {
        bound[0] = Lwp.current().isBound();
        Rtentry rt = rc.lookup(ro, ip("10.9.9.9"));
        bound[1] = Lwp.current().isBound();
        rc.unref(rt, ro);
        bound[2] = Lwp.current().isBound();
      });
      assertFalse(bound[0]);
      assertTrue(bound[1]);
      assertFalse(bound[2]);
      assertCleanShutdown(m);
    }
  }

  private static Rtentry lookupAndUnref(Machine m, Rtcache rc, Route ro, String dst) {
    return m.call("lookup", () -> {
      Rtentry rt = rc.lookup(ro, ip(dst));
      rc.unref(rt, ro);
      return rt;
    });
  }
}
