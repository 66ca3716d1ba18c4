package org.mpsafe.kern;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * {@code kmutex_t} ({@code sys/kern/kern_mutex.c}): an adaptive mutex, or a spin mutex at an IPL.
 *
 * <p>{@code new KMutex("name", MUTEX_DEFAULT, IPL_NONE)} is adaptive: a contender spins while the
 * owner is on a CPU and otherwise sleeps, giving its CPU up. An IPL above {@code IPL_NONE} makes
 * a spin mutex: entering raises the CPU's IPL (so no softint at or below it, and no preemption,
 * can take the CPU) and a contender spins, keeping its CPU. A spin mutex holder must not sleep.
 *
 * <pre>
 * Implementation notes
 *
 * owner is CAS'ed from null to the LWP (acquire) and written null on exit (release): the
 * happens-before edge of the critical section. Sleeping contenders wait on a {@link Sleepq};
 * see its notes for why no wakeup is lost. The saved IPL of spin mutexes is per CPU with a
 * nesting count (ci_mtx_count / ci_mtx_oldspl), as in NetBSD.
 * mutex_exit is a preemption point.
 * </pre>
 */
public final class KMutex implements KObject {
  public static final int MUTEX_DEFAULT = 0;
  public static final int MUTEX_SPIN = 1;
  private static final String FILE = "sys/kern/kern_mutex.c";
  private static final int ADAPTIVE_SPINS = 200;

  private final long kaddr = Kaddr.alloc();
  private final String name;
  private final int ipl;
  private volatile Lwp owner;
  private final Sleepq waiters = new Sleepq();

  /** {@code mutex_init(mtx, type, ipl)}. */
  public KMutex(String name, int type, int ipl) {
    this.name = name;
    this.ipl = Ipl.check(ipl);
    if (type != MUTEX_DEFAULT && type != MUTEX_SPIN) {
      throw new IllegalArgumentException("mutex type must be MUTEX_DEFAULT or MUTEX_SPIN: " + type);
    }
    if (type == MUTEX_SPIN && ipl == Ipl.IPL_NONE) {
      throw new IllegalArgumentException("a spin mutex needs an IPL above IPL_NONE: " + name);
    }
  }

  /** An adaptive mutex ({@code MUTEX_DEFAULT, IPL_NONE}). */
  public KMutex(String name) {
    this(name, MUTEX_DEFAULT, Ipl.IPL_NONE);
  }

  public boolean isSpin() {
    return ipl != Ipl.IPL_NONE;
  }

  public String name() {
    return name;
  }

  /** {@code mutex_enter(mtx)}. Adaptive: may sleep. */
  public void enter() {
    Lwp l = Lwp.current();
    if (isSpin()) {
      spinEnter(l);
      return;
    }
    Kern.schedPoint(l);
    if (OWNER.compareAndSet(this, null, l)) {
      return;
    }
    if (owner == l) {
      throw Kassert.panic("Mutex error: %s: %s", "mutex_vector_enter", "locking against myself");
    }
    adaptiveEnter(l);
  }

  /** {@code mutex_tryenter(mtx)}. */
  public boolean tryEnter() {
    Lwp l = Lwp.current();
    if (isSpin()) {
      int s = Kern.splraiseipl(ipl);
      if (OWNER.compareAndSet(this, null, l)) {
        Cpu c = l.cpu;
        if (c.mtxCount++ == 0) {
          c.mtxOldspl = s;
        }
        return true;
      }
      l.cpu.ipl = s;
      return false;
    }
    return OWNER.compareAndSet(this, null, l);
  }

  private void spinEnter(Lwp l) {
    int s = Kern.splraiseipl(ipl);
    Cpu c = l.cpu;
    if (owner == l) {
      throw Kassert.panic("Mutex error: %s: %s", "mutex_vector_enter", "locking against myself");
    }
    for (int i = 0; !OWNER.compareAndSet(this, null, l); i++) {
      Kern.spinWait(i);
      if ((i & 1023) == 1023) {
        l.machine().checkRunning();
      }
    }
    if (c.mtxCount++ == 0) {
      c.mtxOldspl = s;
    }
  }

  private void adaptiveEnter(Lwp l) {
    for (;;) {
      for (int i = 0; i < ADAPTIVE_SPINS; i++) {
        Lwp o = owner;
        if (o == null) {
          if (OWNER.compareAndSet(this, null, l)) {
            return;
          }
        } else if (o.state != Lwp.State.ONPROC) {
          break;
        }
        Kern.spinWait(i);
      }
      waiters.enqueue(l);
      if (OWNER.compareAndSet(this, null, l)) {
        waiters.remove(l);
        return;
      }
      l.wmutex = this;
      waiters.block(l, name, 0);
      l.wmutex = null;
    }
  }

  /** {@code mutex_exit(mtx)}: a preemption point. */
  public void exit() {
    Lwp l = Lwp.current();
    exitNoPreempt(l);
    Kern.preemptPoint(l);
  }

  /** Releases without the preemption point (cv_wait, which gives the CPU up next anyway). */
  void exitNoPreempt(Lwp l) {
    if (owner != l) {
      throw Kassert.panic("Mutex error: %s: %s", "mutex_vector_exit", "not owner");
    }
    owner = null;
    if (isSpin()) {
      Cpu c = l.cpu;
      if (--c.mtxCount == 0) {
        c.ipl = c.mtxOldspl;
      }
    } else if (waiters.nonEmpty) {
      waiters.wakeOne();
    }
  }

  /** {@code mutex_owned(mtx)}: only inside assertions. */
  public boolean owned() {
    Lwp l = Lwp.currentOrNull();
    return l != null && owner == l;
  }

  /** The owner, for diagnostics (racy). */
  public Lwp owner() {
    return owner;
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return "mutex " + name;
  }

  private static final VarHandle OWNER;

  static {
    try {
      OWNER = MethodHandles.lookup().findVarHandle(KMutex.class, "owner", Lwp.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }
}
