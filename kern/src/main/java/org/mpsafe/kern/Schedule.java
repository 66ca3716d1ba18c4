package org.mpsafe.kern;

/**
 * What decided a deterministic machine's interleaving, for the record and for replay.
 *
 * @param mode {@code deterministic}
 * @param strategy {@code random} or {@code pct:D}
 * @param seed the seed of every choice
 * @param steps scheduling decisions made
 * @param digest FNV-1a of the decision sequence, 16 hex digits: equal digests, equal schedules
 * @param virtualNanos the virtual clock, nanoseconds since boot
 */
public record Schedule(
    String mode, String strategy, long seed, long steps, String digest, long virtualNanos) {}
