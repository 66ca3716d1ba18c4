package org.mpsafe.kern;

/**
 * Hardware driven by a deterministic machine ({@link Machine#attachDevice}): instead of a host
 * thread of its own, the device runs when the machine's virtual clock reaches its next firing
 * time, as part of a scheduling step. It holds no CPU, like a device raising an interrupt: it
 * may fill queues and post softints ({@code softint_schedule_cpu}), and must not block.
 */
@FunctionalInterface
public interface Device {
  /**
   * Does the device's work at virtual time {@code nowNanos} (since boot) and returns when it
   * next fires; {@code Long.MAX_VALUE} for never.
   */
  long fire(long nowNanos);
}
