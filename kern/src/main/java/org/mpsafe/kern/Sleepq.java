package org.mpsafe.kern;

import java.util.ArrayDeque;

/**
 * A sleep queue ({@code sys/kern/kern_sleepq.c} in spirit): LWPs blocked on one object, woken in
 * FIFO order. Sleeping gives the CPU up and takes one back after the wakeup.
 *
 * <pre>
 * Implementation notes
 *
 * The queue itself is guarded by its monitor (the sleepq lock). {@link #nonEmpty} is the volatile
 * flag a waker reads without the lock; sleepers set it before they re-check their condition and
 * wakers clear the condition before they read it, so one of the two always sees the other
 * (Dekker over volatiles), and no wakeup is lost.
 *
 * A waker makes the sleeper runnable itself when the sleeper has already given its CPU up
 * (NetBSD's sleepq_remove → setrunnable, {@link Scheduler#wakeSleeper}): the sleeper is granted
 * its CPU, or queued for it with the CPU's preemption request raised, before its host thread
 * even runs; it wakes once, with the CPU in hand, instead of waking to ask for one and sleeping
 * again for the grant. On the deterministic machine, and for a sleeper that still holds its CPU
 * (between enqueue and release), the waker only marks it woken and the sleeper asks for a CPU
 * itself, as before.
 * </pre>
 */
final class Sleepq {
  private final ArrayDeque<Lwp> q = new ArrayDeque<>();
  volatile boolean nonEmpty;
  /** False for a queue nobody wakes ({@code kpause}): its sleepers park at once, no spin. */
  private final boolean wakeable;

  Sleepq() {
    this(true);
  }

  /** A queue; {@code wakeable} false when only a timeout ends a sleep on it ({@code kpause}). */
  Sleepq(boolean wakeable) {
    this.wakeable = wakeable;
  }

  synchronized void enqueue(Lwp l) {
    l.woken = false;
    l.wokenRunnable = false;
    q.add(l);
    nonEmpty = true;
  }

  /** Removes {@code l} if still queued (a timeout); false if a waker took it first. */
  synchronized boolean remove(Lwp l) {
    boolean r = q.remove(l);
    nonEmpty = !q.isEmpty();
    return r;
  }

  synchronized boolean wakeOne() {
    Lwp l = q.poll();
    nonEmpty = !q.isEmpty();
    if (l == null) {
      return false;
    }
    wake(l);
    return true;
  }

  synchronized int wakeAll() {
    int n = 0;
    for (Lwp l; (l = q.poll()) != null; n++) {
      wake(l);
    }
    nonEmpty = false;
    return n;
  }

  /** Wakes {@code l}, just taken off the queue: runnable at once if it gave its CPU up. */
  private static void wake(Lwp l) {
    if (!l.machine().sched.wakeSleeper(l)) {
      l.woken = true;
      l.unpark();
    }
  }

  /**
   * Blocks {@code l} (already enqueued) until woken or until {@code deadlineNanos} (0 = none),
   * with its CPU given up meanwhile. Returns true when woken. Throws {@link MachineStopped}
   * (holding no CPU) if the machine stops.
   */
  boolean block(Lwp l, String wchan, long deadlineNanos) {
    Machine m = l.machine();
    l.wchan = wchan;
    m.sched.release(l, Lwp.State.SLEEP);
    boolean woke;
    try {
      woke = l.parkUntilWoken(deadlineNanos, wakeable);
    } catch (MachineStopped e) {
      if (!remove(l) && l.wokenRunnable) {
        m.sched.abandonWait(l);
      }
      l.state = Lwp.State.ZOMBIE;
      throw e;
    }
    if (!woke) {
      woke = !remove(l);
    }
    l.wchan = null;
    if (woke && l.wokenRunnable) {
      m.sched.awaitGrant(l);
    } else {
      m.sched.acquire(l);
    }
    return woke;
  }
}
