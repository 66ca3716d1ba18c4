package org.mpsafe.kern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.TIMEOUT;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The watchdog turns an LWP blocked longer than the limit into a HANG report, not a hung test. */
class WatchdogTest {

  private static MachineConfig watched() {
    return MachineConfig.of(2).withWatchdog(Duration.ofMillis(200));
  }

  /** Waits on a condvar nobody signals, with the mutex held on entry as cv_wait wants. */
  private static Runnable waitForever(KCondvar cv) {
    KMutex mtx = new KMutex("wd");
    return () -> {
      mtx.enter();
      for (;;) {
        cv.await(mtx);
      }
    };
  }

  @Test
  void reportsAnLwpBlockedOnACondvarNobodySignals() throws InterruptedException {
    try (Machine m = Machine.boot(watched())) {
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, waitForever(new KCondvar("nobody")), "stuck");
      assertTrue(m.awaitStop(TIMEOUT), "the watchdog did not fire");
      assertEquals(Machine.Outcome.HANG, m.outcome());
      HangReport h = m.hang().orElseThrow();
      assertEquals("stuck", h.lwp());
      assertEquals("nobody", h.wchan());
      assertTrue(h.blockedNanos() > Duration.ofMillis(200).toNanos());
      assertTrue(h.headline().matches("hang: lwp stuck blocked on nobody for \\d+ ms"),
          h.headline());
      assertTrue(h.lwps().stream().anyMatch(s -> s.matches("stuck +lid=\\d+ +SLEEP +nobody .*")),
          () -> String.join("\n", h.lwps()));
      assertTrue(m.panic().isEmpty());
      assertEquals(List.of(), m.shutdown());
      assertEquals(Machine.Outcome.HANG, m.outcome());
    }
  }

  /**
   * An idle wait (a service thread waiting for work) is not a hang. Deterministic: the idle
   * waiter blocks first and is earlier in the LWP list, so when the watchdog reports the later
   * real hang, the idle waiter had been over the limit at that scan too and was passed over.
   */
  @Test
  void idleWaitIsNotReported() throws InterruptedException {
    try (Machine m = Machine.boot(watched())) {
      Lwp idler = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0),
          waitForever(KCondvar.forIdleWait("xcall")), "xcall/0");
      await().atMost(TIMEOUT).until(() -> idler.state() == Lwp.State.SLEEP);
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, waitForever(new KCondvar("lost")), "stuck");
      assertTrue(m.awaitStop(TIMEOUT), "the watchdog did not fire");
      HangReport h = m.hang().orElseThrow();
      assertEquals("stuck", h.lwp(), h::headline);
      assertEquals("lost", h.wchan());
      assertTrue(h.lwps().stream().anyMatch(s -> s.matches("xcall/0 +lid=\\d+ +SLEEP +xcall .*")),
          () -> String.join("\n", h.lwps()));
      assertEquals(List.of(), m.shutdown());
    }
  }
}
