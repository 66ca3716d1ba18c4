package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.TIMEOUT;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.awaitSoftintsIdle;
import static org.mpsafe.kern.KernTestSupport.lwpNamed;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A CPU is granted only to an LWP that waits for one.
 *
 * <p>The stall this guards against (issue #11): a device posts {@code ipintr} on cpu1 and reads
 * {@code softnet/1} IDLE without the scheduler lock; before it wakes the LWP, {@code softnet/1}
 * finds the pending bit by itself, runs {@code ipintr}, and sleeps as a reader on a
 * {@code rt_lock} that a writer holds. A wake that accepted a SLEEPing LWP then granted cpu1 to
 * an LWP parked on a lock; when {@code rw_exit} woke it, it asked for cpu1, found it owned (by
 * itself), queued behind itself and parked for ever, with {@code xcall/1} queued behind it.
 */
class StrayGrantTest {

  /**
   * The interleaving above, forced step by step: the posting thread is held by the test hook
   * between its unlocked state read and the wake, while the handler runs into the held lock. The
   * wake must leave the sleeping LWP alone; the handler then completes when the writer lets go,
   * and the other handler posted meanwhile runs too.
   */
  @Test
  void aWakeRacingWithTheHandlerLeavesTheSleepingSoftintAlone() throws Exception {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KRwlock rtLock = new KRwlock("rt_lock");
      AtomicInteger ipintrRuns = new AtomicInteger();
      AtomicInteger otherRuns = new AtomicInteger();
      Softint.Handle ipintr = m.softint().establish(Softint.SOFTINT_NET, () -> {
        rtLock.enter(KRwlock.RW_READER);
        rtLock.exit();
        ipintrRuns.incrementAndGet();
      }, "ipintr");
      Softint.Handle other = m.softint().establish(Softint.SOFTINT_NET,
          otherRuns::incrementAndGet, "other");
      awaitSoftintsIdle(m);
      Lwp softnet1 = lwpNamed(m, "softnet/1");

      KGate release = new KGate();
      CountDownLatch writerHolds = new CountDownLatch(1);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        rtLock.enter(KRwlock.RW_WRITER);
        writerHolds.countDown();
        release.pass();
        rtLock.exit();
      }, "ifconfig/0");
      assertTrue(writerHolds.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));

      CountDownLatch posterHeld = new CountDownLatch(1);
      CountDownLatch letPosterGo = new CountDownLatch(1);
      Thread nic = new Thread(() -> m.softint().scheduleCpu(ipintr, m.cpu(1)), "nic/1");
      m.softint().afterIdleRead = l -> {
        if (Thread.currentThread() == nic) {
          posterHeld.countDown();
          try {
            letPosterGo.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      };
      nic.start();
      assertTrue(posterHeld.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS), "nic/1 never posted");
      assertEquals(Lwp.State.IDLE, softnet1.state(), "the poster read IDLE and is held");

      // softnet/1 is woken by another post, finds ipintr's bit too and sleeps on rt_lock.
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> m.softint().schedule(other), "post/1");
      awaitOrStop(m, () -> softnet1.state() == Lwp.State.SLEEP
          && "rt_lock".equals(softnet1.wchan()) && m.cpu(1).owner == null);

      letPosterGo.countDown();
      nic.join(TIMEOUT.toMillis());
      assertFalse(nic.isAlive(), "nic/1 did not return from softint_schedule_cpu");
      assertEquals(Lwp.State.SLEEP, softnet1.state(), "the late wake touched a sleeping LWP");
      assertNull(m.cpu(1).owner, "cpu1 was handed to a sleeping LWP");

      m.run("opener", release::open);
      awaitOrStop(m, () -> ipintrRuns.get() == 1 && otherRuns.get() == 1
          && softnet1.state() == Lwp.State.IDLE);
      assertNull(m.watchdogScan(), "the watchdog sees a stalled CPU");
      assertCleanShutdown(m);
    }
  }

  /** Granting a CPU to an LWP that sleeps is a panic naming the CPU and the LWP. */
  @Test
  void grantToAnLwpNotWaitingForACpuPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KCondvar cv = new KCondvar("nobody");
      Lwp sleeper = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        KMutex mtx = new KMutex("nobody");
        mtx.enter();
        for (;;) {
          cv.await(mtx);
        }
      }, "sleeper/1");
      awaitOrStop(m, () -> sleeper.state() == Lwp.State.SLEEP && m.cpu(1).owner == null);

      KernelPanic p = assertThrows(KernelPanic.class, () -> m.sched.makeRunnableUnguarded(sleeper));
      assertEquals("sched_grant: cpu1 granted to sleeper/1(" + sleeper.id()
          + ") SLEEP on nobody, which is not waiting for a CPU", p.panic().message());
      assertEquals(Machine.Outcome.PANIC, m.outcome());
      assertEquals(List.of(), m.shutdown());
    }
  }

  /** An LWP that asks for the CPU it owns is a panic naming both. */
  @Test
  void grantToTheCpusOwnOwnerPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KernelPanic p = assertThrows(KernelPanic.class, () -> m.run("self",
          () -> m.sched.makeRunnableUnguarded(Kern.curlwp())));
      assertTrue(p.panic().message().matches(
          "sched_grant: cpu[01] granted to its own owner self\\(\\d+\\) ONPROC"),
          p.panic().message());
      assertEquals("self", p.panic().lwp());
      assertEquals(List.of(), m.shutdown());
    }
  }
}
