package org.mpsafe.xcall;

import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Locale;

/**
 * How low-priority xcall counts finished callbacks: the subject of PR kern/51632.
 *
 * <p>Set at boot with {@code MachineConfig.withOption(Xcall.OPTION_ACCOUNTING, mode)}.
 * Everything else is the same in both modes.
 */
public enum XcallAccounting {
  /**
   * NetBSD 6 and 7 ({@code subr_xcall.c} 1.18): a global {@code xc_tailp} is incremented in
   * {@code xc_thread} <em>before</em> the callback runs, and {@code xc_lowpri} admits the next
   * job when {@code xc_headp == xc_tailp}, i.e. when every CPU has merely <em>started</em> the
   * previous one. Completions of the next job then release the previous job's {@code xc_wait}
   * while one of its callbacks still runs.
   */
  LEGACY_TAILP,
  /**
   * The PR's fix (NetBSD since November 2016): {@code xc_tailp} is gone and admission and the
   * idle broadcast compare against {@code xc_donep}, so jobs never overlap.
   */
  FIXED_DONEP;

  /** Parses {@code legacy} / {@code fixed} (or the constant names), case-insensitively. */
  public static XcallAccounting parse(String s) {
    checkNotNull(s, "xcall accounting");
    switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "legacy", "legacy_tailp", "tailp":
        return LEGACY_TAILP;
      case "fixed", "fixed_donep", "donep":
        return FIXED_DONEP;
      default:
        throw new IllegalArgumentException("xcall accounting must be legacy or fixed: " + s);
    }
  }
}
