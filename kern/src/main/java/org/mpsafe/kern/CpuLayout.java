package org.mpsafe.kern;

/**
 * Field layout of {@link Cpu}: the owner-only fields between padding, so that they share no
 * cache line with the object's header or with the fields other threads write.
 *
 * <pre>
 * Implementation notes
 *
 * HotSpot lays out a superclass's fields before its subclass's, so the chain
 * CachePadBefore -&gt; OwnerFields -&gt; SharedPad -&gt; Cpu puts 64 bytes of padding on each side of
 * ipl/mtxCount/mtxOldspl. The padding fields are never read.
 * </pre>
 */
final class CpuLayout {
  private CpuLayout() {}

  abstract static class OwnerFields extends CachePadBefore {
    /** Owned by the CPU: the IPL of the running context. */
    int ipl = Ipl.IPL_NONE;
    /** Owned by the CPU: spin mutexes held ({@code ci_mtx_count}). */
    int mtxCount;
    /** Owned by the CPU: the IPL to go back to when the last spin mutex is released. */
    int mtxOldspl;
  }

  /** Padding after the owner-only fields; {@link Cpu}'s own fields follow. */
  public abstract static class SharedPad extends OwnerFields {
    long p10, p11, p12, p13, p14, p15, p16, p17;
  }
}
