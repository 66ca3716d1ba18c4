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

  /** A fresh address, 64-byte aligned as a pool allocator would hand out. */
  public static long alloc() {
    return BASE + (NEXT.incrementAndGet() << 6);
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
