package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** An LWP's kernel stack: frames die on return, keep their values, and are reused. */
class KStackTest {

  /** Runs {@code body} with the stack of an LWP of a fresh machine. */
  private static void withStack(Consumer<KStack> body) {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      m.run("stacker", () -> body.accept(Kern.curlwp().stack()));
      assertCleanShutdown(m);
    }
  }

  @Test
  void pushPopReuseAndLive() {
    withStack(st -> {
      KStack.Ptr p = st.push(3);
      assertEquals(3, st.depth());
      assertTrue(p.live());
      assertSame(Kern.curlwp(), p.lwp());
      p.store(0, "class");
      p.store(1, "target");
      p.store(2, 0);
      st.pop(p);
      assertEquals(0, st.depth());
      assertFalse(p.live());
      assertEquals("target", p.load(1), "dead storage keeps its values, as in C");
      st.reuse(1, 2L); // the next call scribbles on it
      assertEquals(2L, p.load(1));
      KStack.Ptr q = st.push(3); // a later call at the same depth
      assertFalse(p.live(), "a new frame at the same place is not the old one");
      assertTrue(q.live());
      assertEquals(p.addr(), q.addr());
      assertNotEquals(p.frame(), q.frame());
      assertEquals(p.kaddr(), q.kaddr());
      st.pop(q);
    });
  }

  /**
   * A frame that died with its caller stays dead when a later, larger frame covers its storage
   * (the use-after-return detector must not call it live again).
   */
  @Test
  void deadInnerFrameStaysDeadWhenItsStorageIsReused() {
    withStack(st -> {
      KStack.Ptr outer = st.push(2);
      KStack.Ptr inner = st.push(2);
      st.pop(outer); // the caller returns: inner dies with it
      assertFalse(inner.live());
      KStack.Ptr big = st.push(4); // covers both dead frames
      assertTrue(big.live());
      assertFalse(outer.live());
      assertFalse(inner.live(), "dead frame came back to life under a new frame");
      assertThrows(IllegalStateException.class, () -> st.pop(inner));
      st.pop(big);
      assertEquals(0, st.depth());
    });
  }

  @Test
  void misuseIsRefused() {
    withStack(st -> {
      KStack.Ptr p = st.push(1);
      assertThrows(IllegalStateException.class, () -> st.reuse(0, 1L), "live word");
      st.pop(p);
      assertThrows(IllegalStateException.class, () -> st.pop(p), "pop twice");
      List<KStack.Ptr> frames = new ArrayList<>();
      assertThrows(IllegalStateException.class, () -> {
        for (;;) {
          frames.add(st.push(100));
        }
      }, "overflow");
      assertEquals(10, frames.size());
      st.pop(frames.get(0));
      assertEquals(0, st.depth());
    });
  }
}
