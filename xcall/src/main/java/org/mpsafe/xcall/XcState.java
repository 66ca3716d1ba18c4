package org.mpsafe.xcall;

import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kern;

/**
 * {@code xc_state_t}: the cross-call state box, one for low and one for high priority.
 *
 * <p>All fields are written under {@link #lock}. {@link #donep} is volatile because
 * {@code xc_wait}'s fast path reads it without the lock.
 */
final class XcState {
  final KMutex lock;
  final KCondvar busy;
  XcFunc func;
  Object arg1;
  Object arg2;
  long headp;
  volatile long donep;
  /** High priority: {@code xc_ipl}, the soft IPL of the current job. */
  int ipl;
  /** Low priority: the current job's number (the early-return detector's key). */
  long job;

  XcState(String cvName, KMutex lock) {
    this.lock = lock;
    this.busy = new KCondvar(cvName);
  }

  /** Spins this many volatile reads of donep before sleeping (see Xcall's notes). */
  private static final int SPINS = 2_000;

  /** The body of {@code xc_wait}: returns once {@code donep >= where}. */
  void waitDone(long where) {
    if (donep >= where) {
      return;
    }
    for (int i = 0; i < SPINS; i++) {
      Thread.onSpinWait();
      if (donep >= where) {
        return;
      }
      // A preemption point: the job's callback for this very CPU (xcall/N or the xcall
      // softint) waits for the CPU the waiter holds; without it, a low-priority broadcast
      // always spun out all SPINS before sleeping let that callback run. xc_wait may sleep,
      // so being preempted here is allowed (NetBSD's xc_wait gives the CPU up in cv_wait).
      Kern.preempt();
    }
    lock.enter();
    while (donep < where) {
      busy.await(lock);
    }
    lock.exit();
  }
}
