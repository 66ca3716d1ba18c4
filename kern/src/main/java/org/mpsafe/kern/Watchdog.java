package org.mpsafe.kern;

import com.google.common.base.Ticker;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The machine's watchdog: a host thread ({@code mpsafe-watchdog}) that looks at the machine every
 * period and stops it with a {@link HangReport} (outcome HANG) when it finds
 *
 * <ul>
 *   <li>a stalled CPU: its owner is not running on it (not ONPROC) or it has no owner while LWPs
 *       wait for it ({@link Scheduler#stalledCpus}). Never a passing state, so it is reported at
 *       the first look, within one period ({@code limit / 4}, at most 1 s) of arising;
 *   <li>an LWP blocked longer than the limit: asleep (on a lock, condvar, {@code kpause}) or
 *       waiting for a CPU. An idle wait for work (a softint LWP idling, a service thread on a
 *       condvar made with {@link KCondvar#forIdleWait}) is not a block.
 * </ul>
 *
 * <pre>
 * Implementation notes
 *
 * Times come from the machine's watchdog clock (a Guava Ticker, the system's unless a test gives
 * one): Lwp.since is stamped from it when an LWP starts to sleep or wait, under the scheduler
 * lock. A look reads each LWP's state and since under that lock, so the pair is consistent (no
 * state of one wait with the stamp of another). One look is {@link #scan()}; the thread only
 * calls it periodically, so a test with a fake clock can call it directly and decide the
 * verdict by the clock it advanced, not by the host's timing. A deterministic machine has no
 * watchdog thread: its scheduler looks every 1024 steps, on virtual time.
 * </pre>
 */
final class Watchdog {
  private final Machine machine;
  private final Scheduler sched;
  private final Ticker ticker;
  private final long base;
  private final long limit;
  private final CountDownLatch stopped;
  private final Thread thread;

  Watchdog(Machine machine, Scheduler sched, Ticker ticker, long limitNanos,
      CountDownLatch stopped, boolean withThread) {
    this.machine = machine;
    this.sched = sched;
    this.ticker = ticker;
    this.base = ticker.read();
    this.limit = limitNanos;
    this.stopped = stopped;
    this.thread = limitNanos == 0 || !withThread ? null
        : new Thread(this::loop, "mpsafe-watchdog");
    if (thread != null) {
      thread.setDaemon(true);
    }
  }

  /** The watchdog clock in nanoseconds since boot, plus one: never 0 (0 marks "not waiting"). */
  long now() {
    return ticker.read() - base + 1;
  }

  void start() {
    if (thread != null) {
      thread.start();
    }
  }

  /** The watchdog's thread, or null when it is off (limit 0). */
  Thread thread() {
    return thread;
  }

  private void loop() {
    long period = Math.max(10_000_000L, Math.min(1_000_000_000L, limit / 4));
    while (machine.running()) {
      try {
        stopped.await(period, TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (!machine.running()) {
        return;
      }
      if (scan() != null) {
        return;
      }
    }
  }

  /**
   * One look at the machine: stops it with a hang report and returns the report if it finds a
   * stalled CPU or an LWP blocked longer than the limit; null otherwise (also when the limit is
   * 0, when only stalled CPUs are looked for).
   */
  HangReport scan() {
    List<String> stalled = sched.stalledCpus();
    HangReport h = null;
    if (!stalled.isEmpty()) {
      h = new HangReport("-", "cpu", 0, machine.ps(), sched.cpuLines(),
          "cpu stalled: " + String.join("; ", stalled));
    } else if (limit > 0) {
      h = blockedTooLong();
    }
    if (h == null || !machine.running()) {
      return null;
    }
    return machine.stopHung(h) ? h : null;
  }

  private HangReport blockedTooLong() {
    sched.lock.lock();
    try {
      long now = now();
      for (Lwp l : machine.lwps()) {
        Lwp.State s = l.state;
        long since = l.since;
        boolean blocked = (s == Lwp.State.SLEEP && !l.idleWait) || s == Lwp.State.RUNNABLE;
        if (blocked && since != 0 && now - since > limit) {
          String w = s == Lwp.State.RUNNABLE ? "cpu" : l.wchan;
          return new HangReport(l.name(), w, now - since, machine.ps(), sched.cpuLines(), null);
        }
      }
      return null;
    } finally {
      sched.lock.unlock();
    }
  }
}
