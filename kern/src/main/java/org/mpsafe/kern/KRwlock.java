package org.mpsafe.kern;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * {@code krwlock_t} ({@code sys/kern/kern_rwlock.c}): readers share, a writer excludes.
 *
 * <p>{@code rw_enter(RW_READER)} never blocks another reader; a waiting writer stops new readers
 * from entering ({@code RW_WRITE_WANTED}) so it cannot starve. Contenders sleep, giving their
 * CPU up.
 *
 * <pre>
 * Implementation notes
 *
 * state: number of readers (> 0), 0 free, -1 write-held; CAS'ed. writeWanted counts waiting
 * writers. Sleepers are woken all at once on each release that finds waiters and re-try.
 * </pre>
 */
public final class KRwlock implements KObject {
  public static final int RW_READER = 0;
  public static final int RW_WRITER = 1;

  private final long kaddr = Kaddr.alloc();
  private final String name;
  private volatile int state;
  private volatile int writeWanted;
  private volatile Lwp writer;
  private final Sleepq waiters = new Sleepq();

  /** {@code rw_init(rw)}. */
  public KRwlock(String name) {
    this.name = name;
  }

  /** {@code rw_enter(rw, op)}: may sleep. */
  public void enter(int op) {
    Lwp l = Lwp.current();
    Kern.schedPoint(l);
    if (op == RW_READER) {
      while (!tryRead()) {
        waiters.enqueue(l);
        if (tryRead()) {
          waiters.remove(l);
          return;
        }
        waiters.block(l, name, 0);
      }
    } else if (op == RW_WRITER) {
      if (writer == l) {
        throw Kassert.panic("%s: locking against myself", "rw_vector_enter");
      }
      if (STATE.compareAndSet(this, 0, -1)) {
        writer = l;
        return;
      }
      synchronized (this) {
        writeWanted++;
      }
      try {
        for (;;) {
          waiters.enqueue(l);
          if (STATE.compareAndSet(this, 0, -1)) {
            waiters.remove(l);
            break;
          }
          waiters.block(l, name, 0);
          if (STATE.compareAndSet(this, 0, -1)) {
            break;
          }
        }
      } finally {
        synchronized (this) {
          writeWanted--;
        }
      }
      writer = l;
    } else {
      throw new IllegalArgumentException("rw_enter op must be RW_READER or RW_WRITER: " + op);
    }
  }

  private boolean tryRead() {
    for (;;) {
      int s = state;
      if (s < 0 || writeWanted > 0) {
        return false;
      }
      if (STATE.compareAndSet(this, s, s + 1)) {
        return true;
      }
    }
  }

  /** {@code rw_exit(rw)}: a preemption point. */
  public void exit() {
    Lwp l = Lwp.current();
    for (;;) {
      int s = state;
      if (s == 0) {
        throw Kassert.panic("%s: lock not held", "rw_vector_exit");
      }
      if (s < 0) {
        if (writer != l) {
          throw Kassert.panic("%s: not owner", "rw_vector_exit");
        }
        writer = null;
        state = 0;
        break;
      }
      if (STATE.compareAndSet(this, s, s - 1)) {
        break;
      }
    }
    if (waiters.nonEmpty) {
      waiters.wakeAll();
    }
    Kern.preemptPoint(l);
  }

  /** {@code rw_write_held(rw)}: only inside assertions. */
  public boolean writeHeld() {
    return state < 0 && writer == Lwp.currentOrNull();
  }

  /** {@code rw_lock_held(rw)}: held by someone (readers are anonymous). */
  public boolean lockHeld() {
    return state != 0;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(KRwlock.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
