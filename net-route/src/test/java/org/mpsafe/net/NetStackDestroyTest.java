package org.mpsafe.net;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;

/**
 * {@link NetStack#destroy()} through public API only: after forwarding traffic on every CPU, the
 * teardown detaches every interface, destroys and frees every route and address, and its
 * psref_class_destroy calls find both classes drained (their KASSERT would otherwise panic the
 * machine).
 */
class NetStackDestroyTest {
  private static final Duration LIMIT = Duration.ofSeconds(30);

  @Test
  void destroyAfterTrafficFreesEverythingAndFindsBothPsrefClassesDrained() throws Exception {
    try (Machine m = Machine.boot(MachineConfig.of(4))) {
      NetStack net = NetStack.create(m);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      m.run("ifconfig", () -> {
        assertEquals(0, net.inControl(wm0, Inet.SIOCAIFADDR, Inet.parse("10.0.0.1"), 24));
        assertEquals(0, net.inControl(wm1, Inet.SIOCAIFADDR, Inet.parse("10.1.0.1"), 24));
        assertEquals(0, net.inControl(wm1, Inet.SIOCAIFADDR, Inet.parse("10.2.0.1"), 24));
        assertEquals(0, net.rt().rtrequestAdd(Inet.parse("172.16.0.0"), 16,
            Inet.parse("10.1.0.254"), Rtentry.RTF_STATIC | Rtentry.RTF_GATEWAY));
      });
      List<Rtentry> routes = m.call("netstat", () -> net.rt().routes());
      List<Ifaddr> addrs = net.addrs().addresses(null);
      assertEquals(7, routes.size());

      // Host threads in the NICs' role, one per CPU, until every interface has forwarded.
      List<Thread> nics = new ArrayList<>();
      AtomicBoolean stop =
          new AtomicBoolean();
      int[] dsts = {Inet.parse("10.0.0.9"), Inet.parse("10.1.0.9"), Inet.parse("172.16.3.4"),
          Inet.parse("10.2.0.1"), Inet.parse("192.0.2.1")};
      for (int c = 0; c < m.ncpu(); c++) {
        int cpu = c;
        SplittableRandom rnd = new SplittableRandom(c);
        Thread t = new Thread(() -> {
          while (!stop.get() && m.running()) {
            net.input(m.cpu(cpu), wm0, dsts[rnd.nextInt(dsts.length)], 64);
            if (rnd.nextInt(64) == 0) {
              Thread.onSpinWait();
            }
          }
        }, "nic/" + c);
        nics.add(t);
        t.start();
      }
      await().atMost(LIMIT).until(() -> !m.running()
          || (wm0.opackets() > 1000 && wm1.opackets() > 1000));
      stop.set(true);
      for (Thread t : nics) {
        t.join(LIMIT.toMillis());
        assertFalse(t.isAlive());
      }
      assertTrue(m.running(), () -> "unexpected " + m.panic().orElse(null));

      net.destroy();

      assertTrue(m.panic().isEmpty(), () -> "psref_class_destroy: " + m.panic().get());
      assertTrue(net.isDestroyed());
      assertEquals(List.of(), net.ifnets());
      assertTrue(wm0.isDetached() && wm1.isDetached());
      assertEquals(0, net.rt().size());
      assertEquals(List.of(), net.addrs().addresses(null));
      assertEquals(routes.size(), net.rt().destroys());
      assertEquals(addrs.size(), net.addrs().destroys());
      for (Rtentry rt : routes) {
        assertTrue(rt.isFreed(), () -> "not freed: " + rt);
      }
      for (Ifaddr ia : addrs) {
        assertTrue(ia.isFreed(), () -> "not freed: " + ia);
      }
      assertThrows(IllegalStateException.class, () -> net.ifAttach("wm2"));
      assertEquals(List.of(), m.shutdown());
    }
  }
}
