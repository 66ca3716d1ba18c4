package org.mpsafe.kern;

/**
 * {@code KASSERT}, {@code KASSERTMSG} and {@code panic} with NetBSD's text.
 *
 * <p>Java cannot stringify an expression, so the caller passes the C expression text, the NetBSD
 * file being ported and its line; a grep of either tree finds the other:
 *
 * <pre>{@code
 * if (Kassert.DIAGNOSTIC && target.prtClass != cls) {
 *   Kassert.failMsg("(target->prt_class == class)", SUBR_PSREF_C, 485,
 *       "mismatched psref target class: %p (ref) != %p (expected)", target.prtClass, cls);
 * }
 * }</pre>
 *
 * The failure text is {@code kernel diagnostic assertion "EXPR" failed: file "FILE", line N MSG}
 * ({@code __KASSERTSTR} in {@code sys/lib/libkern/libkern.h}). Formats understand {@code %p}
 * ({@link Kaddr}), {@code %d %u %x %s %zu %%}.
 *
 * <p>{@link #DIAGNOSTIC} is on unless the JVM runs with {@code -Dmpsafe.nodiagnostic=true}
 * (benchmarks); it is a constant, so the JIT drops disabled checks entirely. Without DIAGNOSTIC
 * the checks are not evaluated, as in a NetBSD kernel built without {@code options DIAGNOSTIC};
 * behaviour is otherwise unchanged.
 */
public final class Kassert {
  private Kassert() {}

  /** {@code options DIAGNOSTIC}. */
  public static final boolean DIAGNOSTIC = !Boolean.getBoolean("mpsafe.nodiagnostic");

  /** {@code KASSERT(expr)}. */
  public static void kassert(boolean cond, String expr, String file, int line) {
    if (DIAGNOSTIC && !cond) {
      fail(expr, file, line);
    }
  }

  /** {@code KASSERTMSG(expr, fmt)}. */
  public static void kassertMsg(boolean cond, String expr, String file, int line, String fmt) {
    if (DIAGNOSTIC && !cond) {
      failMsg(expr, file, line, fmt);
    }
  }

  /** {@code KASSERTMSG(expr, fmt, a)}. */
  public static void kassertMsg(
      boolean cond, String expr, String file, int line, String fmt, Object a) {
    if (DIAGNOSTIC && !cond) {
      failMsg(expr, file, line, fmt, a);
    }
  }

  /** {@code KASSERTMSG(expr, fmt, a, b)}. */
  public static void kassertMsg(
      boolean cond, String expr, String file, int line, String fmt, Object a, Object b) {
    if (DIAGNOSTIC && !cond) {
      failMsg(expr, file, line, fmt, a, b);
    }
  }

  /** {@code KASSERTMSG(expr, fmt, a, b, c)}. */
  public static void kassertMsg(
      boolean cond, String expr, String file, int line, String fmt, Object a, Object b,
      Object c) {
    if (DIAGNOSTIC && !cond) {
      failMsg(expr, file, line, fmt, a, b, c);
    }
  }

  /** A failed {@code KASSERT}: panics. Never returns. */
  public static KernelPanic fail(String expr, String file, int line) {
    throw panic(prefix(expr, file, line));
  }

  /** A failed {@code KASSERTMSG}: panics. Never returns. */
  public static KernelPanic failMsg(
      String expr, String file, int line, String fmt, Object... args) {
    throw panic(prefix(expr, file, line) + format(fmt, args));
  }

  /** {@code panic(fmt, ...)}: records the panic, stops the machine, throws. Never returns. */
  public static KernelPanic panic(String fmt, Object... args) {
    return panic(format(fmt, args));
  }

  private static KernelPanic panic(String message) {
    Lwp l = Lwp.currentOrNull();
    if (l == null) {
      throw new IllegalStateException("panic outside any LWP: " + message);
    }
    throw l.machine().panicNow(l, message);
  }

  static String prefix(String expr, String file, int line) {
    return "kernel diagnostic assertion \"" + expr + "\" failed: file \"" + file
        + "\", line " + line + " ";
  }

  /** printf as the kernel's: {@code %p %d %u %x %s %zu %%}; missing args print as {@code ?}. */
  public static String format(String fmt, Object... args) {
    StringBuilder sb = new StringBuilder(fmt.length() + 32);
    int ai = 0;
    for (int i = 0; i < fmt.length(); i++) {
      char ch = fmt.charAt(i);
      if (ch != '%' || i + 1 == fmt.length()) {
        sb.append(ch);
        continue;
      }
      char conv = fmt.charAt(++i);
      if (conv == 'z' && i + 1 < fmt.length()) {
        conv = fmt.charAt(++i);
      }
      if (conv == '%') {
        sb.append('%');
        continue;
      }
      Object a = ai < args.length ? args[ai++] : "?";
      switch (conv) {
        case 'p' -> sb.append(Kaddr.format(a));
        case 'x' -> sb.append(a instanceof Number n ? Long.toHexString(n.longValue()) : a);
        case 'u', 'd' -> sb.append(a instanceof Cpu c ? c.index() : a);
        case 's' -> sb.append(a);
        default -> sb.append('%').append(conv);
      }
    }
    return sb.toString();
  }
}
