package org.mpsafe.net;

import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;

/** A kernel gate for tests: LWPs sleep in {@link #pass} (CPU released) until {@link #open}. */
final class KGate {
  private final KMutex lock = new KMutex("gate");
  private final KCondvar cv = new KCondvar("gate");
  private volatile boolean open;
  private volatile int waiting;

  void pass() {
    lock.enter();
    waiting++;
    while (!open) {
      cv.await(lock);
    }
    waiting--;
    lock.exit();
  }

  void open() {
    lock.enter();
    open = true;
    cv.broadcast();
    lock.exit();
  }

  boolean occupied() {
    return waiting > 0;
  }

  boolean isOpen() {
    return open;
  }
}
