package org.mpsafe.kern;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Kernel addresses for {@code %p}: {@link KObject}s get unique addresses in a kernel-looking
 * range; {@code null} prints {@code 0x0}; a raw word (a {@link Long} or {@link Integer} read from
 * dead stack) prints as its value, so a scribbled slot shows up as e.g. {@code 0x2}.
 */
public final class Kaddr {
  private Kaddr() {}

  private static final long BASE = 0xffff_c000_0000_0000L;
  private static final AtomicLong NEXT = new AtomicLong();

  /**
   * The deterministic machine whose kernel objects the calling thread is making: set for the
   * thread that boots one, found through the LWP for its kthreads.
   */
  private static final ThreadLocal<DetScheduler> HOST_DET = new ThreadLocal<>();

  /** A fresh address, 64-byte aligned as a pool allocator would hand out. */
  public static long alloc() {
    DetScheduler d = currentDet();
    return BASE + ((d != null ? d.nextKaddr() : NEXT.incrementAndGet()) << 6);
  }

  /**
   * Objects the calling thread makes from now on take addresses from {@code det}'s own counter,
   * so a deterministic machine's addresses (and the panic messages that print them) repeat with
   * its seed whatever else the JVM has allocated.
   */
  static void allocateFrom(DetScheduler det) {
    HOST_DET.set(det);
  }

  /** The calling thread stops allocating from {@code det} (its machine shut down). */
  static void forget(DetScheduler det) {
    if (HOST_DET.get() == det) {
      HOST_DET.remove();
    }
  }

  private static DetScheduler currentDet() {
    Lwp l = Lwp.currentOrNull();
    if (l != null) {
      return l.det;
    }
    DetScheduler d = HOST_DET.get();
    return d != null && d.host == Thread.currentThread() ? d : null;
  }

  /** The address {@code %p} prints for {@code o}. */
  public static long of(Object o) {
    if (o == null) {
      return 0L;
    }
    if (o instanceof KObject) {
      return ((KObject) o).kaddr();
    }
    if (o instanceof Long) {
      return (Long) o;
    }
    if (o instanceof Integer) {
      return ((Integer) o) & 0xffff_ffffL;
    }
    return 0xffff_d000_0000_0000L | ((System.identityHashCode(o) & 0xffff_ffffL) << 4);
  }

  /** {@code %p} formatting: {@code 0x} and lower-case hex, {@code 0x0} for null. */
  public static String format(Object o) {
    return "0x" + Long.toHexString(of(o));
  }
}
