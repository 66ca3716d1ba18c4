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

  /**
   * Volatile reads of donep that {@code xc_wait} spins through before sleeping when the
   * {@link Xcall#OPTION_WAIT_SPIN} boot option is on (see Xcall's notes).
   */
  static final int SPINS = 2_000;

  /**
   * The body of {@code xc_wait}: returns once {@code donep >= where}. Checks donep once, spins
   * up to {@code spins} more reads, then sleeps on xc_busy; NetBSD (1.18 and later) is
   * {@code spins == 0}.
   */
  void waitDone(long where, int spins) {
    if (donep >= where) {
      return;
    }
    for (int i = 0; i < spins; i++) {
      Kern.spinWait(i);
      if (donep >= where) {
        return;
      }
      // A preemption point: the job's callback for this very CPU (xcall/N or the xcall
      // softint) may be waiting for the CPU the waiter holds, and only a preemption point lets
      // it run during the spin. xc_wait may sleep, so being preempted here is allowed (NetBSD's
      // xc_wait gives the CPU up in cv_wait).
      Kern.preempt();
    }
    lock.enter();
    while (donep < where) {
      busy.await(lock);
    }
    lock.exit();
  }
}
