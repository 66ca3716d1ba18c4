package org.mpsafe.kern;

/**
 * Interrupt priority levels ({@code sys/sys/intr.h}), lowest to highest.
 *
 * <p>A CPU's IPL is the level of the context running on it. A softint of level L may take the
 * CPU only while the CPU's IPL is below L; a kernel thread may preempt only at {@link #IPL_NONE}.
 * The machine has no hardware interrupts, so the levels above {@link #IPL_SOFTSERIAL} only block
 * softints and preemption (spin mutexes use them).
 */
public final class Ipl {
  private Ipl() {}

  public static final int IPL_NONE = 0;
  public static final int IPL_SOFTCLOCK = 1;
  public static final int IPL_SOFTBIO = 2;
  public static final int IPL_SOFTNET = 3;
  public static final int IPL_SOFTSERIAL = 4;
  public static final int IPL_VM = 5;
  public static final int IPL_SCHED = 6;
  public static final int IPL_HIGH = 7;

  private static final String[] NAMES = {
    "IPL_NONE", "IPL_SOFTCLOCK", "IPL_SOFTBIO", "IPL_SOFTNET",
    "IPL_SOFTSERIAL", "IPL_VM", "IPL_SCHED", "IPL_HIGH"
  };

  /** True for the four software-interrupt levels. */
  public static boolean isSoft(int ipl) {
    return ipl >= IPL_SOFTCLOCK && ipl <= IPL_SOFTSERIAL;
  }

  /** Throws {@link IllegalArgumentException} unless {@code ipl} is a level. */
  public static int check(int ipl) {
    if (ipl < IPL_NONE || ipl > IPL_HIGH) {
      throw new IllegalArgumentException("ipl out of range [0, 7]: " + ipl);
    }
    return ipl;
  }

  public static String name(int ipl) {
    return ipl >= 0 && ipl < NAMES.length ? NAMES[ipl] : "IPL_" + ipl;
  }
}
