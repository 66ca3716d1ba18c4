package org.mpsafe.kern;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A host thread that {@link Machine#run}, {@link Machine#call} and {@link Machine#enter} adopt
 * through a field instead of a {@code ThreadLocal}: while adopted, {@code curlwp()} costs what
 * it costs in a kthread or softint (a type check and a field load off
 * {@code Thread.currentThread()}), not a {@code ThreadLocal} lookup (a few ns, several times per
 * psref or routing call). Any other host thread works too, only slower on every kernel call.
 *
 * <p>Use it for host threads that run a lot of kernel code, e.g. benchmark threads
 * ({@link #factory} for an executor). The adoption field is read and written only by the thread
 * itself.
 */
public final class HostThread extends Thread {
  /** The LWP this thread runs as while adopted, else null; owned by the thread. */
  Lwp adopted;

  public HostThread(Runnable body, String name) {
    super(body, name);
  }

  /** Daemon {@link HostThread}s named {@code prefix-N}. */
  public static ThreadFactory factory(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      HostThread t = new HostThread(r, prefix + "-" + n.getAndIncrement());
      t.setDaemon(true);
      return t;
    };
  }
}
