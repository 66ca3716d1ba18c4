package org.mpsafe.kern;

/**
 * 64 bytes of padding laid out before a subclass's fields: HotSpot lays out a superclass's
 * fields before its subclass's, so {@code Fields extends CachePadBefore}, followed by a class
 * that adds 64 bytes of its own after them, keeps per-CPU fields off the cache lines of their
 * neighbours (the object header, adjacent objects a thread allocated in a row). Used by
 * {@link Cpu} ({@link CpuLayout}), {@code struct psref} and {@code struct route}. The padding
 * fields are never read.
 */
public abstract class CachePadBefore {
  long p00, p01, p02, p03, p04, p05, p06, p07;
}
