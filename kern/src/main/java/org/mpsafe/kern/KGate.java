package org.mpsafe.kern;

/**
 * A one-shot gate: LWPs sleep in {@link #pass} (their CPU released) until someone calls
 * {@link #open}; afterwards {@code pass} returns at once. Built from {@link KMutex} and
 * {@link KCondvar}, so a test can hold kernel code at a chosen point without a Java lock (which
 * would keep the CPU). {@link #occupied} tells whether an LWP is waiting in it.
 */
public final class KGate {
  private final KMutex lock = new KMutex("gate");
  private final KCondvar cv = new KCondvar("gate");
  private volatile boolean open;
  private volatile int waiting;

  public void pass() {
    lock.enter();
    waiting++;
    while (!open) {
      cv.await(lock);
    }
    waiting--;
    lock.exit();
  }

  public void open() {
    lock.enter();
    open = true;
    cv.broadcast();
    lock.exit();
  }

  public boolean occupied() {
    return waiting > 0;
  }

  public boolean isOpen() {
    return open;
  }
}
