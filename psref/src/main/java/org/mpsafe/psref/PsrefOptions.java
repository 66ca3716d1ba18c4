package org.mpsafe.psref;

import org.mpsafe.kern.MachineConfig;

/**
 * Boot options of psref: the 2016 behaviour by default, later NetBSD features on request.
 *
 * @param highpriDrain drain with {@code XC_HIGHPRI_IPL(class ipl)} (NetBSD ≥ 8) instead of a
 *     low-priority xcall (2016, the version in PR kern/51632)
 * @param debug the {@code DEBUG} duplicate/existence checks of acquire and release
 * @param lwpCount count {@code l_psrefs}, checked at softint return and LWP exit
 * @param frameDetector the use-after-return detector on {@code psreffed_p}'s frame
 */
public record PsrefOptions(
    boolean highpriDrain, boolean debug, boolean lwpCount, boolean frameDetector) {
  public static final String OPTION_HIGHPRI_DRAIN = "psref.highpriDrain";
  public static final String OPTION_DEBUG = "psref.debug";
  public static final String OPTION_LWP_COUNT = "psref.lwpCount";
  public static final String OPTION_FRAME_DETECTOR = "psref.frameDetector";

  static PsrefOptions of(MachineConfig c) {
    return new PsrefOptions(
        c.option(OPTION_HIGHPRI_DRAIN, Boolean.FALSE),
        c.option(OPTION_DEBUG, Boolean.FALSE),
        c.option(OPTION_LWP_COUNT, Boolean.FALSE),
        c.option(OPTION_FRAME_DETECTOR, Boolean.FALSE));
  }
}
