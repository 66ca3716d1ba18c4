package org.mpsafe.kern;

/**
 * Thrown in an LWP that tries to run kernel code after the machine stopped (panic or shutdown):
 * at a preemption point, when it wants a CPU, or while it is blocked. It unwinds the LWP, which
 * then exits; it is not an error of the LWP.
 */
public final class MachineStopped extends Error {
  MachineStopped(String why) {
    super(why, null, false, false);
  }
}
