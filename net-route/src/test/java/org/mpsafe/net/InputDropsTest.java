package org.mpsafe.net;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.net.NetFixture.LIMIT;
import static org.mpsafe.net.NetFixture.assertCleanShutdown;
import static org.mpsafe.net.NetFixture.boot;
import static org.mpsafe.net.NetFixture.ifconfig;
import static org.mpsafe.net.NetFixture.ip;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;

/**
 * Device-side drop accounting: {@link NetStack#input} is called from host threads that hold no
 * virtual CPU, several at once for one CPU's queue. Every packet offered is either queued (input
 * returns true) or counted as a drop, exactly once, in ipstat's qdrops and in the receiving
 * interface's ifq_drops.
 */
class InputDropsTest {
  private static final int PER_SENDER = 50_000;

  @Test
  void twoHostThreadsOverflowingOneQueueLoseNoDrop() throws Exception {
    try (Machine m = boot(2)) {
      NetStack net = NetStack.create(m, 16);
      Ifnet wm0 = net.ifAttach("wm0");
      Ifnet wm1 = net.ifAttach("wm1");
      ifconfig(m, net, wm0, "10.0.0.1", 24);
      ifconfig(m, net, wm1, "10.1.0.1", 24);

      // Hold cpu0 at IPL_SOFTNET so its ipintr cannot drain the queue while the senders run:
      // the queue fills, and from then on every packet is a drop.
      AtomicLong held = new AtomicLong();
      AtomicBoolean release =
          new AtomicBoolean();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        int s = Kern.splsoftnet();
        held.set(1);
        while (!release.get()) {
          Thread.onSpinWait();
        }
        Kern.splx(s);
      }, "softnet_blocker");
      await().atMost(LIMIT).until(() -> held.get() == 1 || !m.running());

      CyclicBarrier start = new CyclicBarrier(2);
      AtomicLong queued = new AtomicLong();
      Thread[] senders = new Thread[2];
      for (int t = 0; t < 2; t++) {
        senders[t] = new Thread(() -> {
          try {
            start.await();
          } catch (Exception e) {
            throw new AssertionError(e);
          }
          long q = 0;
          for (int k = 0; k < PER_SENDER; k++) {
            if (net.input(m.cpu(0), wm0, ip("10.1.0.7"), 64)) {
              q++;
            }
          }
          queued.addAndGet(q);
        }, "nic/sender" + t);
        senders[t].start();
      }
      for (Thread t : senders) {
        t.join(LIMIT.toMillis());
        assertFalse(t.isAlive(), t.getName());
      }
      long sent = 2L * PER_SENDER;
      IpStat st = net.ipstat();
      System.out.printf("InputDropsTest: %d sent, %d queued, %d dropped%n", sent, queued.get(),
          st.qdrops());
      assertTrue(st.qdrops() > 0, "the queue overflowed");
      assertTrue(queued.get() <= 32, "at most the ring's capacity while softnet is held off");
      assertEquals(sent - queued.get(), st.qdrops(), "every refused packet counted once");
      assertEquals(st.qdrops(), wm0.iqdrops(), "ifq_drops of the receiving interface");
      assertEquals(0, wm1.iqdrops());
      assertEquals(0, st.total(), "nothing processed while cpu0 is held");

      release.set(true);
      await().atMost(LIMIT).until(() -> net.ipstat().total() == queued.get() || !m.running());
      st = net.ipstat();
      assertEquals(queued.get(), st.total());
      assertEquals(queued.get(), st.forwarded());
      assertEquals(queued.get(), wm1.opackets());
      assertCleanShutdown(m);
    }
  }
}
