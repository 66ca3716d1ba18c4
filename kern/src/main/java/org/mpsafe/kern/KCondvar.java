package org.mpsafe.kern;

/**
 * {@code kcondvar_t} ({@code sys/kern/kern_condvar.c}): wait for a condition under a
 * {@link KMutex}.
 *
 * <p>As in NetBSD, waiters re-check their condition in a loop; {@link #signal} and
 * {@link #broadcast} may be called with or without the mutex held (without it, a wakeup can be
 * missed by a waiter that has not yet gone to sleep: callers that do so use a timed wait, like
 * {@code psref_release}).
 *
 * <pre>
 * Implementation notes
 *
 * cv_wait enqueues the LWP on the condvar's sleep queue *before* releasing the mutex, so a
 * signaller that holds the mutex after the condition changed always finds it. Waking up, the
 * LWP first takes a CPU and only then the mutex: taking a spin mutex while waiting for a CPU
 * could deadlock with a CPU owner spinning on that mutex.
 * </pre>
 */
public final class KCondvar implements KObject {
  private final long kaddr = Kaddr.alloc();
  private final String wmesg;
  private final boolean idle;
  private final Sleepq sleepq = new Sleepq();

  /** {@code cv_init(cv, wmesg)}. */
  public KCondvar(String wmesg) {
    this(wmesg, false);
  }

  private KCondvar(String wmesg, boolean idle) {
    this.wmesg = wmesg;
    this.idle = idle;
  }

  /**
   * A condvar on which a service thread waits for work (e.g. {@code xcall/N} on its
   * {@code cpu_xcall}): the watchdog does not count such waits as hangs.
   */
  public static KCondvar forIdleWait(String wmesg) {
    return new KCondvar(wmesg, true);
  }

  public String wmesg() {
    return wmesg;
  }

  /** {@code cv_wait(cv, mtx)}: {@code mtx} held on entry and on return. Sleeps. */
  public void await(KMutex mtx) {
    timedwait0(mtx, 0);
  }

  /**
   * {@code cv_timedwait(cv, mtx, ticks)}: like {@link #await} but for at most {@code ticks}
   * ticks (0 = forever). Returns 0 when woken, {@link Kern#EWOULDBLOCK} on timeout. Callers
   * re-check their condition either way.
   */
  public int timedwait(KMutex mtx, int ticks) {
    if (ticks < 0) {
      throw new IllegalArgumentException("cv_timedwait ticks must be >= 0: " + ticks);
    }
    return timedwait0(mtx, ticks);
  }

  private int timedwait0(KMutex mtx, int ticks) {
    Lwp l = Lwp.current();
    Kassert.kassert(mtx.owned(), "mutex_owned(mtx)", "sys/kern/kern_condvar.c", 219);
    long deadline = ticks == 0 ? 0 : l.machine().clockNanos() + l.machine().ticksToNanos(ticks);
    sleepq.enqueue(l);
    mtx.exitNoPreempt(l);
    boolean woke;
    l.idleWait = idle;
    try {
      woke = sleepq.block(l, wmesg, deadline);
    } finally {
      l.idleWait = false;
    }
    mtx.enter();
    return woke ? 0 : Kern.EWOULDBLOCK;
  }

  /** {@code cv_signal(cv)}: wakes one waiter. */
  public void signal() {
    if (sleepq.nonEmpty) {
      sleepq.wakeOne();
    }
  }

  /** {@code cv_broadcast(cv)}: wakes every waiter. */
  public void broadcast() {
    if (sleepq.nonEmpty) {
      sleepq.wakeAll();
    }
  }

  /** {@code cv_has_waiters(cv)}. */
  public boolean hasWaiters() {
    return sleepq.nonEmpty;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "cv " + wmesg;
  }
}
