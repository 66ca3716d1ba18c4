package org.mpsafe.kern;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Hands virtual CPUs to LWPs: the rump kernel's scheduler ({@code rump_schedule_cpu},
 * {@code rump_unschedule_cpu}) plus priority preemption at preemption points.
 *
 * <pre>
 * Implementation notes
 *
 * One lock ({@link #lock}) guards every CPU's owner, the run queues and the LWPs' grants. A CPU
 * changes owner only under it, and the new owner learns of the grant through a volatile field
 * written under it; so everything the old owner wrote before giving the CPU up happens-before
 * everything the new owner does on it. That edge is what lets per-CPU data (psref lists,
 * percpu, evcnt, the trace ring, the CPU's IPL) be plain fields with no atomics.
 *
 * Invariants (asserted by SchedulerTest, SplTest and the concurrency tests):
 *  S1 At most one LWP owns a CPU; an LWP owns at most one CPU.
 *  S2 An idle CPU has an empty run queue and the global (unbound) queue is empty: a waiter is
 *     handed a CPU the moment one is free, so nobody waits while a CPU idles.
 *  S3 A bound LWP is only ever granted its own CPU.
 *  S4 A CPU goes to its highest-priority waiter; equal priorities are served in arrival order.
 *  S5 A raised IPL pins: a thread that a softint interrupts at IPL > IPL_NONE (only a softint
 *     above that IPL can) waits in Cpu.pinned, in no run queue, and takes the CPU back as soon
 *     as no softint above its IPL is pending: before any other thread, never on another CPU.
 *     This is NetBSD's softint borrowing the interrupted LWP's context and returning to it.
 *
 * Preemption. Rump has none: a vCPU changes hands only when its LWP blocks or yields. mpsafe
 * adds preemption at explicit points (mutex_exit, rw_exit, splx lowering the IPL,
 * kpreempt_enable/percpu_putref, softint return, a local softint_schedule, preempt()) because
 * that is how a NetBSD kernel lets softnet delay an xcall/N thread between its xc_tailp++ and
 * its callback: the window of PR kern/51632. At a point the owner reads
 * wantPri (one volatile read) and only when a waiter outranks it takes the slow path, which
 * hands the CPU over if preemption is enabled (l_nopreempt == 0) and the CPU's IPL lets the
 * waiter in: a softint of level L needs IPL < L, a thread needs IPL_NONE.
 * </pre>
 */
final class Scheduler {
  static final int NO_WANT = Integer.MIN_VALUE;

  final ReentrantLock lock = new ReentrantLock();
  private final Machine machine;
  private final Cpu[] cpus;
  /** Unbound LWPs waiting for any CPU. */
  private final List<Lwp> globalq = new ArrayList<>();
  private long seq;
  private int nextCpu;
  /** LWPs granted a CPU in the current critical section, told by {@link #commit}. */
  private final List<Lwp> granting = new ArrayList<>(2);

  Scheduler(Machine machine, Cpu[] cpus) {
    this.machine = machine;
    this.cpus = cpus;
  }

  /** Takes a CPU for {@code l}, which holds none; blocks until one is granted. */
  void acquire(Lwp l) {
    lock.lock();
    try {
      machine.checkRunning();
      makeRunnable(l);
    } finally {
      lock.unlock();
    }
    awaitGrant(l);
  }

  /** Under the lock: {@code l} gets a free CPU it may run on at once, or waits in a queue. */
  private void makeRunnable(Lwp l) {
    l.granted = null;
    Cpu c = l.isBound() ? l.boundCpu : idleCpu(l);
    if (c != null && c.owner == null) {
      grant(c, l);
    } else {
      enqueue(l);
    }
    commit();
  }

  /** Gives up {@code l}'s CPU, entering {@code next} state; the best waiter takes it. */
  void release(Lwp l, Lwp.State next) {
    lock.lock();
    try {
      Cpu c = l.cpu;
      if (c.owner != l) {
        throw new IllegalStateException(l + " releases " + c + " owned by " + c.owner);
      }
      l.savedIpl = c.ipl;
      c.ipl = Ipl.IPL_NONE;
      c.owner = null;
      l.granted = null;
      l.state = next;
      l.since = System.nanoTime();
      Lwp n = next(c);
      if (n != null) {
        dequeue(n);
        grant(c, n);
      }
      commit();
    } finally {
      lock.unlock();
    }
  }

  /**
   * The slow path of a preemption point (or of {@code yield} when {@code yieldToAny}): hands the
   * CPU to a waiter that outranks {@code l} (any waiter when yielding) and may run at the CPU's
   * IPL, then waits for a CPU again.
   */
  void preempt(Lwp l, boolean yieldToAny) {
    machine.checkRunning();
    if (l.nopreempt > 0) {
      return;   // preemption (and a yield, which could migrate us) waits for kpreempt_enable
    }
    lock.lock();
    Cpu c = l.cpu;
    try {
      machine.checkRunning();
      Lwp w = best(c, yieldToAny ? Integer.MIN_VALUE : l.pri + 1, c.ipl);
      if (w == null) {
        commit();
        return;
      }
      dequeue(w);
      l.savedIpl = c.ipl;
      c.ipl = Ipl.IPL_NONE;
      c.owner = null;
      grant(c, w);
      l.granted = null;
      if (l.savedIpl > Ipl.IPL_NONE && (l.pflag & Lwp.LP_INTR) == 0) {
        // S5. Fix: this thread was interrupted at raised IPL by a softint; it used to be
        // queued like a preempted thread, so a higher-priority thread could take the CPU while
        // it sat at IPL_SOFTNET, and an unbound one migrated to an idle CPU mid-spl section.
        pin(c, l);
      } else {
        Cpu idle = l.isBound() ? null : idleCpu(l);
        if (idle != null) {
          grant(idle, l);
        } else {
          enqueue(l);
        }
      }
      commit();
    } finally {
      lock.unlock();
    }
    awaitGrant(l);
  }

  /**
   * Idles {@code l} (a softint or service LWP) until {@link #setRunnable}: gives its CPU up in
   * state IDLE unless {@code hasWork} turns true first. The state is published before the work
   * is re-checked, and producers publish work before they read the state, so no wakeup is lost.
   */
  void sleepIdle(Lwp l, java.util.function.BooleanSupplier hasWork) {
    lock.lock();
    try {
      l.state = Lwp.State.IDLE;
      if (hasWork.getAsBoolean() || !machine.running()) {
        l.state = Lwp.State.ONPROC;
        machine.checkRunning();
        return;
      }
      l.idleWait = true;
      release(l, Lwp.State.IDLE);
    } finally {
      lock.unlock();
    }
    awaitGrant(l);
    l.idleWait = false;
  }

  /** Wakes an LWP that released its CPU in state IDLE or SLEEP: queue it for a CPU. */
  void setRunnable(Lwp l) {
    lock.lock();
    try {
      if (l.state != Lwp.State.IDLE && l.state != Lwp.State.SLEEP) {
        return;
      }
      makeRunnable(l);
    } finally {
      lock.unlock();
    }
  }

  /** Stops every CPU: each owner's next preemption point takes the slow path and unwinds. */
  void stopAll() {
    lock.lock();
    try {
      for (Cpu c : cpus) {
        c.wantPri = Integer.MAX_VALUE;
        c.anyWaiter = true;
      }
    } finally {
      lock.unlock();
    }
  }

  private void awaitGrant(Lwp l) {
    boolean interrupted = false;
    while (l.granted == null) {
      if (!machine.running()) {
        lock.lock();
        try {
          if (l.granted == null) {
            globalq.remove(l);
            if (l.boundCpu != null) {
              l.boundCpu.runq.remove(l);
            }
            if (l.cpu != null && l.cpu.pinned == l) {
              l.cpu.pinned = null;
            }
            l.state = Lwp.State.ZOMBIE;
          }
        } finally {
          lock.unlock();
        }
        machine.checkRunning();
      }
      java.util.concurrent.locks.LockSupport.park(this);
      interrupted |= Thread.interrupted();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    Cpu c = l.granted;
    c.ipl = l.savedIpl;
    l.savedIpl = Ipl.IPL_NONE;
  }

  /** Makes {@code l} the owner of {@code c}; {@link #commit} tells {@code l}. */
  private void grant(Cpu c, Lwp l) {
    c.owner = l;
    l.cpu = c;
    l.state = Lwp.State.ONPROC;
    l.since = 0;
    granting.add(l);
  }

  /**
   * Ends a critical section that changed owners or queues: recomputes every CPU's wanted
   * priority, then publishes this section's grants (l.granted, unpark). Fix: grant() used to
   * publish at once, before updateWant(); the new owner could then run, pass a preemption point
   * reading the old wantPri (NO_WANT while a softint owned the CPU) and miss a waiter that
   * outranked it, e.g. a pending softnet softint at splx().
   */
  private void commit() {
    updateWant();
    for (int i = 0; i < granting.size(); i++) {
      Lwp l = granting.get(i);
      l.granted = l.cpu;
      if (l.thread != Thread.currentThread()) {
        l.unpark();
      }
    }
    granting.clear();
  }

  /** A free CPU for unbound {@code l}, preferring the one it ran on; null if all are busy. */
  private Cpu idleCpu(Lwp l) {
    if (l.cpu != null && l.cpu.owner == null) {
      return l.cpu;
    }
    for (int i = 0; i < cpus.length; i++) {
      Cpu c = cpus[(nextCpu + i) % cpus.length];
      if (c.owner == null) {
        nextCpu = (c.index() + 1) % cpus.length;
        return c;
      }
    }
    return null;
  }

  private void enqueue(Lwp l) {
    l.state = Lwp.State.RUNNABLE;
    l.since = System.nanoTime();
    l.seq = ++seq;
    insert(l.isBound() ? l.boundCpu.runq : globalq, l);
  }

  private static void insert(List<Lwp> q, Lwp l) {
    int i = 0;
    while (i < q.size() && q.get(i).pri >= l.pri) {
      i++;
    }
    q.add(i, l);
  }

  private void dequeue(Lwp l) {
    if (l.cpu != null && l.cpu.pinned == l) {
      l.cpu.pinned = null;
      return;
    }
    (l.isBound() ? l.boundCpu.runq : globalq).remove(l);
  }

  /** S5: {@code l}, interrupted at raised IPL on {@code c}, waits there for {@code c} alone. */
  private void pin(Cpu c, Lwp l) {
    if (c.pinned != null) {
      throw new IllegalStateException(c + " already holds interrupted " + c.pinned + ", not " + l);
    }
    c.pinned = l;
    l.state = Lwp.State.RUNNABLE;
    l.since = System.nanoTime();
  }

  /**
   * Who takes {@code c} when its owner releases it: the best waiter, except that an LWP pinned
   * by S5 lets only softints above its IPL run before it.
   */
  private Lwp next(Cpu c) {
    Lwp p = c.pinned;
    if (p == null) {
      return best(c, Integer.MIN_VALUE, Ipl.IPL_NONE);
    }
    Lwp s = best(c, Integer.MIN_VALUE, p.savedIpl);
    return s != null ? s : p;
  }

  /**
   * The waiter that should run next on {@code c}: priority at least {@code minPri}, and allowed
   * at IPL {@code ipl}; null if none.
   */
  private Lwp best(Cpu c, int minPri, int ipl) {
    Lwp a = firstAllowed(c.runq, minPri, ipl);
    Lwp b = firstAllowed(globalq, minPri, ipl);
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    return a.pri > b.pri || (a.pri == b.pri && a.seq < b.seq) ? a : b;
  }

  private static Lwp firstAllowed(List<Lwp> q, int minPri, int ipl) {
    for (Lwp w : q) {
      if (w.pri < minPri) {
        return null;
      }
      if (allowedAt(w, ipl)) {
        return w;
      }
    }
    return null;
  }

  /** A softint of level L runs only below L; anything else only at IPL_NONE. */
  private static boolean allowedAt(Lwp w, int ipl) {
    if ((w.pflag & Lwp.LP_INTR) != 0) {
      return ipl < w.softLevel;
    }
    return ipl == Ipl.IPL_NONE;
  }

  private void updateWant() {
    if (!machine.running()) {
      // Fix: once stopped, keep stopAll()'s signal. Recomputing here (an LWP that was between
      // preemption points at the stop and then slept or released its CPU) used to reset every
      // CPU to NO_WANT, so an LWP looping on preempt() elsewhere never saw the stop and
      // shutdown could not join it. running is written before stopAll() takes the lock, so a
      // section after stopAll's sees it false.
      for (Cpu c : cpus) {
        c.wantPri = Integer.MAX_VALUE;
        c.anyWaiter = true;
      }
      return;
    }
    int g = globalq.isEmpty() ? NO_WANT : globalq.get(0).pri;
    for (Cpu c : cpus) {
      int top = c.runq.isEmpty() ? NO_WANT : c.runq.get(0).pri;
      top = Math.max(top, g);
      Lwp o = c.owner;
      c.anyWaiter = top != NO_WANT;
      c.wantPri = (o != null && top > o.pri) ? top : NO_WANT;
    }
  }
}
