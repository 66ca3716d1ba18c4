package org.mpsafe.kern;

/**
 * Scheduling priorities ({@code sys/sys/param.h}); higher runs first.
 *
 * <p>Only the order matters to the machine: softint LWPs (by level) above {@link #PRI_XCALL}
 * kernel threads above other kernel threads above user LWPs. The numbers follow NetBSD's
 * ranges ({@code MAXPRI_KTHREAD} = 127, softints in the interrupt range above it).
 */
public final class Pri {
  private Pri() {}

  /** A user LWP, e.g. the one running ifconfig(8). */
  public static final int PRI_USER = 0;
  /** An ordinary kernel thread. */
  public static final int PRI_KTHREAD = 64;
  /** Network kernel threads (workqueues at PRI_SOFTNET in NetBSD run as kthreads). */
  public static final int PRI_KNET = 96;
  /** The per-CPU {@code xcall/N} threads: {@code MAXPRI_KTHREAD}. */
  public static final int PRI_XCALL = 127;
  public static final int PRI_SOFTCLOCK = 220;
  public static final int PRI_SOFTBIO = 221;
  public static final int PRI_SOFTNET = 222;
  public static final int PRI_SOFTSERIAL = 223;

  /** The priority of the softint LWP serving soft level {@code ipl}. */
  public static int ofSoftLevel(int ipl) {
    return PRI_SOFTCLOCK + (ipl - Ipl.IPL_SOFTCLOCK);
  }
}
