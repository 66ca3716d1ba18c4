package org.mpsafe.kern;

import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * {@code struct lwp}: a kernel light-weight process, carried by one Java platform thread.
 *
 * <p>An LWP runs kernel code only while it holds a {@link Cpu}. It gives the CPU up whenever it
 * blocks (mutex, condvar, rwlock, kpause) and takes one back before it returns; a bound LWP
 * ({@link #LP_BOUND}) always comes back to its own CPU, an unbound one to whichever is free.
 *
 * <p>Fields marked "owned by the LWP" are touched only by its own thread.
 */
public final class Lwp implements KObject {
  /** {@code LP_BOUND}: the LWP never leaves its CPU. */
  public static final int LP_BOUND = 0x0001;
  /** {@code LP_INTR}: a softint LWP; {@code cpu_softintr_p()} is true in it. */
  public static final int LP_INTR = 0x0002;

  /** Scheduler states, as the watchdog and {@code ps} show them. */
  public enum State { NEW, ONPROC, RUNNABLE, SLEEP, IDLE, ZOMBIE }

  private final long kaddr = Kaddr.alloc();
  private final Machine machine;
  /**
   * The deterministic machine's baton, or null (host-scheduled): read at every preemption point
   * and lock entry, so it sits on the LWP, a final field of an object already in hand.
   */
  final DetScheduler det;
  private final int id;
  private final String name;
  final int pri;
  final Thread thread;

  /** Owned by the LWP: {@code l_pflag}. */
  int pflag;
  /** Owned by the LWP: {@code l_nopreempt}. */
  int nopreempt;
  /** Owned by the LWP: {@code l_psrefs}, counted when psref's per-LWP accounting is on. */
  int psrefs;
  /** Owned by the LWP: nesting depth of pserialize read sections. */
  int pserializeDepth;
  /** The CPU it is bound to, or null. */
  volatile Cpu boundCpu;
  /** The CPU it runs on now, or ran on last; written under the scheduler lock. */
  volatile Cpu cpu;
  /** The IPL saved while the LWP is off its CPU. */
  int savedIpl;
  /** Set by the scheduler when it hands this LWP a CPU. */
  volatile Cpu granted;
  /** Set by whoever wakes this LWP from a sleep. */
  volatile boolean woken;
  /**
   * Set with {@link #woken} (before it) when the waker also made this LWP runnable
   * ({@link Scheduler#wakeSleeper}): it then waits for its grant instead of asking for a CPU.
   */
  boolean wokenRunnable;
  /** For a softint LWP, the soft IPL it serves; 0 otherwise. */
  int softLevel;
  /** Arrival order in a run queue; under the scheduler lock. */
  long seq;
  /**
   * True from the moment the LWP asks for a CPU (it is then in a run queue, pinned, idle in
   * {@code sleepIdle}, or about to wait in {@code awaitGrant}) until the scheduler grants one;
   * under the scheduler lock. A grant to an LWP without it is a scheduler panic.
   */
  boolean wantsCpu;
  /** Deterministic machine: parked, waiting to be chosen; under the baton. */
  boolean detWaiting;
  /** Deterministic machine: what it waits for (null: ready at once); under the baton. */
  BooleanSupplier detCond;
  /** Deterministic machine: virtual deadline of its wait, or DetScheduler.NONE. */
  long detDeadline = DetScheduler.NONE;
  /** Deterministic machine: PCT priority. */
  long detPri;
  /** The conditions of its two waits, made once (no allocation per wait). */
  final BooleanSupplier grantedCond = () -> granted != null;
  final BooleanSupplier wokenCond = () -> woken;

  volatile State state = State.NEW;
  /** What it sleeps on (a wait channel name), for the watchdog. */
  volatile String wchan;
  /**
   * The adaptive mutex it sleeps on, or null: for {@code ps}, which names the owner. Written
   * by the LWP itself around its sleep, read racily (diagnostics only, no ordering needed).
   */
  KMutex wmutex;
  /** The watchdog clock's reading when it started to sleep or wait for a CPU; 0 while ONPROC. */
  volatile long since;
  /** True while its sleep is an idle wait for work, which the watchdog ignores. */
  volatile boolean idleWait;
  private final KStack stack = new KStack(this);

  Lwp(Machine machine, int id, String name, int pri, int pflag, Cpu bound, Runnable body) {
    this.machine = machine;
    this.det = machine.det;
    this.id = id;
    this.name = name;
    this.pri = pri;
    this.pflag = pflag;
    this.boundCpu = bound;
    this.cpu = bound;
    this.thread = body == null ? Thread.currentThread() : new LwpThread(this, body);
  }

  /** {@code curlwp}: the LWP of the calling thread; panics-free null check is the caller's. */
  public static Lwp current() {
    Lwp l = currentOrNull();
    if (l == null) {
      throw new IllegalStateException(
          "not on an LWP: run kernel code in a kthread or Machine.run(...), thread "
              + Thread.currentThread().getName());
    }
    return l;
  }

  /** The calling thread's LWP, or null for a plain host thread. */
  public static Lwp currentOrNull() {
    Thread t = Thread.currentThread();
    if (t instanceof LwpThread lt) {
      return lt.lwp;
    }
    if (t instanceof HostThread ht) {
      return ht.adopted;
    }
    return HostAdoption.adopted();
  }

  public Machine machine() {
    return machine;
  }

  /** The LWP id ({@code l_lid}), unique in its machine. */
  public int id() {
    return id;
  }

  /** The name {@code ps} shows, e.g. {@code xcall/1}; also the host thread's name. */
  public String name() {
    return name;
  }

  public int priority() {
    return pri;
  }

  /** {@code l_pflag}. */
  public int pflag() {
    return pflag;
  }

  /** {@code l_nopreempt}. */
  public int nopreempt() {
    return nopreempt;
  }

  /** The CPU it runs on (owned by the LWP while it holds a CPU). */
  public Cpu cpu() {
    return cpu;
  }

  public boolean isBound() {
    return (pflag & LP_BOUND) != 0;
  }

  public State state() {
    return state;
  }

  public String wchan() {
    return wchan;
  }

  /**
   * {@code l_psrefs}: passive references the LWP holds (when psref counts them). The LWP's own
   * count: only its own thread changes it ({@link #psrefAcquired}, {@link #psrefReleased}),
   * checked at softint return and LWP exit.
   */
  public int psrefs() {
    return psrefs;
  }

  /** {@code l->l_psrefs++}: called by the LWP itself when it acquires a passive reference. */
  public void psrefAcquired() {
    psrefs++;
  }

  /** {@code l->l_psrefs--}: called by the LWP itself when it releases a passive reference. */
  public void psrefReleased() {
    psrefs--;
  }

  /** Nesting depth of the LWP's pserialize read sections ({@code pserialize_in_read_section}). */
  public int pserializeDepth() {
    return pserializeDepth;
  }

  /** {@code pserialize_read_enter}'s count: called by the LWP itself. */
  public void pserializeReadEnter() {
    pserializeDepth++;
  }

  /** {@code pserialize_read_exit}'s count: called by the LWP itself. */
  public void pserializeReadExit() {
    pserializeDepth--;
  }

  /** Its kernel stack, where C would keep locals whose address is taken. */
  public KStack stack() {
    return stack;
  }

  /**
   * Blocks the thread until {@link #woken}, the deadline on the machine's clock (0 = none) or
   * the machine stops; spinning first ({@link HandoffSpin}) when {@code spin}, i.e. when a waker
   * may come.
   */
  boolean parkUntilWoken(long deadlineNanos, boolean spin) {
    while (!woken) {
      machine.checkRunning();
      if (det != null) {
        if (deadlineNanos != 0 && det.now() >= deadlineNanos) {
          return false;
        }
        det.block(this, wokenCond, deadlineNanos == 0 ? DetScheduler.NONE : deadlineNanos);
        continue;
      }
      if (spin && machine.spin.awaitWoken(this)) {
        break;
      }
      if (deadlineNanos == 0) {
        LockSupport.park(this);
      } else {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        LockSupport.parkNanos(this, left);
      }
    }
    return true;
  }

  void unpark() {
    LockSupport.unpark(thread);
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return name + "(" + id + ")";
  }
}
