package org.mpsafe.kern;

import java.util.Arrays;

/**
 * An LWP's kernel stack, for the locals whose address C code hands to other CPUs.
 *
 * <p>In C, {@code psreffed_p} builds {@code struct psreffed P} on its stack and passes {@code &P}
 * to the xcall callbacks; when it returns, that storage is dead and the next call made by the
 * same LWP overwrites it. Java locals cannot be pointed at, so such a frame lives here: a word
 * array with a stack pointer. {@link #push} reserves words, {@link #pop} releases them without
 * clearing (dead storage keeps its values until reused, exactly as in C), and a later push at
 * the same depth overwrites them. A {@link Ptr} into a frame can tell whether its frame is still
 * live, which is what a use-after-return detector checks.
 *
 * <p>Owned by its LWP: only that LWP pushes and pops; other CPUs may read words through a
 * {@link Ptr} (racy, as reading another CPU's stack is in C).
 */
public final class KStack {
  private static final int WORDS = 1024;

  private final Lwp lwp;
  private final Object[] words = new Object[WORDS];
  /** The frame id of the frame whose base each word is (0 where no frame starts). */
  private final long[] frameAt = new long[WORDS];
  private int sp;
  private long frames;

  KStack(Lwp lwp) {
    this.lwp = lwp;
  }

  /** A pointer into a frame: {@code &P}. */
  public record Ptr(KStack stack, int addr, long frame) implements KObject {
    public Object load(int off) {
      return stack.words[addr + off];
    }

    public void store(int off, Object v) {
      stack.words[addr + off] = v;
    }

    /** True while the frame this pointer was taken from has not returned. */
    public boolean live() {
      return addr < stack.sp && stack.frameAt[addr] == frame;
    }

    public Lwp lwp() {
      return stack.lwp;
    }

    @Override
    public long kaddr() {
      return 0xffff_a000_0000_0000L | ((long) stack.lwp.id() << 16) | ((long) addr << 3);
    }
  }

  /** Reserves an {@code n}-word frame and returns a pointer to it. */
  public Ptr push(int n) {
    if (sp + n > WORDS) {
      throw new IllegalStateException("kernel stack overflow in " + lwp.name());
    }
    int base = sp;
    sp += n;
    frameAt[base] = ++frames;
    return new Ptr(this, base, frames);
  }

  /** Returns from the frame {@code p}: its storage is dead but keeps its values. */
  public void pop(Ptr p) {
    if (p.stack != this || p.addr >= sp || frameAt[p.addr] != p.frame) {
      throw new IllegalStateException("pop of a frame that is not live: " + p);
    }
    // Every frame from p up dies here (callees return with their caller): all their ids are
    // forgotten, so a later, larger push over their storage cannot make their Ptrs live again.
    Arrays.fill(frameAt, p.addr, sp, 0L);
    sp = p.addr;
  }

  /**
   * Stores {@code v} at dead word {@code addr}: what the LWP's next call writes into the storage
   * a returned frame left behind.
   */
  public void reuse(int addr, Object v) {
    if (addr < sp) {
      throw new IllegalStateException("word " + addr + " is live in " + lwp.name());
    }
    words[addr] = v;
  }

  /** Current depth in words. */
  public int depth() {
    return sp;
  }
}
