package org.mpsafe.kern;

/**
 * The host thread of an LWP. {@code curlwp()} is a field load off
 * {@code Thread.currentThread()}, which the JIT makes an intrinsic: cheaper than a ThreadLocal on
 * the psref fast path.
 */
final class LwpThread extends Thread {
  final Lwp lwp;

  LwpThread(Lwp lwp, Runnable body) {
    super(null, body, lwp.name(), 0, false);
    this.lwp = lwp;
    setDaemon(true);
  }
}
