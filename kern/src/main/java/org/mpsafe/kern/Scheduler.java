package org.mpsafe.kern;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

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
 * percpu, evcnt, the trace ring, the CPU's IPL) be plain fields with no atomics. The new
 * owner's host thread waits for that field by spinning briefly, then parking
 * ({@link HandoffSpin}); the waker always unparks, so how it waits never decides whether it
 * wakes.
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
      l.wantsCpu = true;
      makeRunnable(l);
    } finally {
      lock.unlock();
    }
    awaitGrant(l);
  }

  /**
   * {@code setrunnable} from the waker's side: if {@code l}, just taken off a sleep queue, has
   * given its CPU up (state SLEEP), marks it woken and makes it runnable under the lock — a free
   * CPU is granted to it at once, or it waits in the run queue with the CPU's preemption request
   * raised — and returns true; the sleeper then only waits for its grant ({@link #awaitGrant}).
   * Returns false, changing nothing, on the deterministic machine or when {@code l} still holds
   * its CPU (it enqueued itself and has not released it yet): the caller marks it woken and the
   * sleeper asks for a CPU itself. {@code woken} is written before the grant is published, so a
   * sleeper unparked by the grant always finds it set.
   */
  boolean wakeSleeper(Lwp l) {
    if (machine.det != null) {
      return false;
    }
    lock.lock();
    try {
      if (l.state != Lwp.State.SLEEP || l.granted != null || !machine.running()) {
        return false;
      }
      l.wokenRunnable = true;
      l.woken = true;
      l.wantsCpu = true;
      makeRunnable(l);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * A sleeper that {@link #wakeSleeper} made runnable but that stops with the machine before its
   * grant: out of the run queues, and its CPU given back if the grant came.
   */
  void abandonWait(Lwp l) {
    lock.lock();
    try {
      unqueue(l);
      Cpu c = l.granted;
      if (c != null && c.owner == l) {
        c.owner = null;
      }
      l.granted = null;
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: {@code l}, stopped with the machine, no longer waits for a CPU. */
  private void unqueue(Lwp l) {
    globalq.remove(l);
    if (l.boundCpu != null) {
      l.boundCpu.runq.remove(l);
    }
    l.wantsCpu = false;
  }

  /** Under the lock: {@code l} gets a free CPU it may run on at once, or waits in a queue. */
  private void makeRunnable(Lwp l) {
    Cpu own = l.cpu;
    if (own != null && own.owner == l) {
      throw schedPanic("%s: %s granted to its own owner %s", "sched_grant", own, describe(l));
    }
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
      l.since = machine.watchdogNow();
      Lwp n = next(c);
      if (n != null) {
        dequeue(n);
        grant(c, n);
      } else {
        c.trace.add(Trace.SWITCH, l.id(), 0, 0);
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
      l.wantsCpu = true;
      if (l.savedIpl > Ipl.IPL_NONE && (l.pflag & Lwp.LP_INTR) == 0) {
        // S5: a softint interrupted this thread at raised IPL. It waits pinned to this CPU,
        // not in a run queue, so no other thread takes the CPU while it sits at IPL_SOFTNET and
        // it never migrates to an idle CPU in the middle of its spl section.
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
   * Idles {@code l} (a softint or service LWP) until {@link #wakeIdle}: gives its CPU up in
   * state IDLE unless {@code hasWork} turns true first. The state is published before the work
   * is re-checked, and producers publish work before they read the state, so no wakeup is lost.
   */
  void sleepIdle(Lwp l, BooleanSupplier hasWork) {
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
      l.wantsCpu = true;
    } finally {
      lock.unlock();
    }
    awaitGrant(l);
    l.idleWait = false;
  }

  /**
   * Wakes {@code l} if it idles in {@link #sleepIdle}: it takes a free CPU or waits in its run
   * queue. An LWP in any other state is left alone. In particular one that sleeps (on a lock or a
   * condvar, maybe inside the very handler that was posted) is woken only through its sleep
   * queue; the work that was posted stays pending (the softint bit), and the LWP finds it when
   * it next looks, before it idles again. So no wakeup is lost, and a CPU is never handed to an
   * LWP that is not waiting for one.
   */
  void wakeIdle(Lwp l) {
    lock.lock();
    try {
      if (l.state == Lwp.State.IDLE) {
        makeRunnable(l);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@code l} asks for a CPU whatever its state: the step {@link #wakeIdle} guards. Only for
   * tests of the grant assertion (an LWP that does not wait for a CPU is then a panic).
   */
  void makeRunnableUnguarded(Lwp l) {
    lock.lock();
    try {
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

  /**
   * Waits until {@code l} has been granted a CPU (by the scheduler, or by a waker's
   * {@link #wakeSleeper}), then restores the IPL it gave its CPU up at.
   */
  void awaitGrant(Lwp l) {
    boolean interrupted = false;
    while (l.granted == null) {
      if (!machine.running()) {
        lock.lock();
        try {
          if (l.granted == null) {
            unqueue(l);
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
      DetScheduler det = l.det;
      if (det != null) {
        det.block(l, l.grantedCond, DetScheduler.NONE);
        continue;
      }
      if (machine.spin.awaitGranted(l)) {
        break;
      }
      LockSupport.park(this);
      interrupted |= Thread.interrupted();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    Cpu c = l.granted;
    c.ipl = l.savedIpl;
    l.savedIpl = Ipl.IPL_NONE;
  }

  /**
   * Makes {@code l} the owner of {@code c}; {@link #commit} tells {@code l}. A grant goes only to
   * an LWP that waits for one ({@link Lwp#wantsCpu}) and only of a free CPU: anything else would
   * leave a CPU owned by an LWP that never runs on it, a stall no preemption point can undo, so
   * it is a panic naming both.
   */
  private void grant(Cpu c, Lwp l) {
    if (c.owner != null) {
      throw schedPanic("%s: %s granted to %s while owned by %s", "sched_grant", c, describe(l),
          describe(c.owner));
    }
    if (!l.wantsCpu) {
      throw schedPanic("%s: %s granted to %s, which is not waiting for a CPU", "sched_grant", c,
          describe(l));
    }
    l.wantsCpu = false;
    c.trace.add(Trace.SWITCH, l.id(), l.id(), 0);
    c.owner = l;
    l.cpu = c;
    l.state = Lwp.State.ONPROC;
    l.since = 0;
    granting.add(l);
  }

  /**
   * Ends a critical section that changed owners or queues: recomputes every CPU's wanted
   * priority, then publishes this section's grants (l.granted, unpark). In that order: a new
   * owner told of its grant before updateWant() could run, pass a preemption point reading the
   * stale wantPri (NO_WANT while a softint owned the CPU) and miss a waiter that outranks it,
   * e.g. a pending softnet softint at splx().
   */
  private void commit() {
    updateWant();
    for (int i = 0; i < granting.size(); i++) {
      Lwp l = granting.get(i);
      l.granted = l.cpu;
      if (l.thread != Thread.currentThread() && machine.det == null) {
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
    l.since = machine.watchdogNow();
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
    l.since = machine.watchdogNow();
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
      // Once stopped, keep stopAll()'s signal: a section that recomputed here (an LWP that was
      // between preemption points at the stop and then slept or released its CPU) would reset
      // every CPU to NO_WANT, and an LWP looping on preempt() elsewhere would never see the
      // stop. running is written before stopAll() takes the lock, so a section after stopAll's
      // sees it false.
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
      boolean any = top != NO_WANT;
      int want = (o != null && top > o.pri) ? top : NO_WANT;
      // Written only when changed: every preemption point of the CPU's owner reads them.
      if (c.anyWaiter != any) {
        c.anyWaiter = any;
      }
      if (c.wantPri != want) {
        c.wantPri = want;
      }
    }
  }

  /**
   * The CPUs that cannot make progress, one line each (see {@link #describeCpu}); empty when the
   * scheduler's state is sound. A CPU is stalled when its owner is not running on it (its state
   * is not ONPROC: it sleeps, or waits for a CPU itself), or when it has no owner while LWPs wait
   * for it (S2). Under the lock neither is ever a passing state; the grant assertions make both
   * impossible, and the watchdog reports one as a hang at once if it arises anyway.
   */
  List<String> stalledCpus() {
    lock.lock();
    try {
      List<String> out = new ArrayList<>();
      for (Cpu c : cpus) {
        Lwp o = c.owner;
        boolean waiters = !c.runq.isEmpty() || c.pinned != null || !globalq.isEmpty();
        if ((o != null && o.state != Lwp.State.ONPROC) || (o == null && waiters)) {
          out.add(describeCpu(c));
        }
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** Every CPU's line (see {@link #describeCpu}), and the unbound run queue's. */
  List<String> cpuLines() {
    lock.lock();
    try {
      List<String> out = new ArrayList<>();
      for (Cpu c : cpus) {
        out.add(describeCpu(c));
      }
      out.add("globalq [" + describeAll(globalq) + "]");
      return out;
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@code cpu3 owner softnet/3(12) RUNNABLE on cpu, runq [xcall/3(9) RUNNABLE], pinned -};
   * under the lock.
   */
  private String describeCpu(Cpu c) {
    Lwp o = c.owner;
    return c + " owner " + (o == null ? "-" : describe(o)) + ", runq [" + describeAll(c.runq)
        + "], pinned " + (c.pinned == null ? "-" : describe(c.pinned));
  }

  private static String describeAll(List<Lwp> q) {
    StringBuilder sb = new StringBuilder();
    for (Lwp w : q) {
      sb.append(sb.length() == 0 ? "" : ", ").append(describe(w));
    }
    return sb.toString();
  }

  /** {@code softnet/3(12) SLEEP on rt_lock}: the LWP, its state and what it waits on. */
  static String describe(Lwp l) {
    Lwp.State s = l.state;
    String w = s == Lwp.State.RUNNABLE ? "cpu" : l.wchan;
    return l + " " + s + (w == null ? "" : " on " + w);
  }

  /** A panic found by the scheduler itself, in whatever thread asked (an LWP or a device). */
  private KernelPanic schedPanic(String fmt, Object... args) {
    return machine.panicNow(Lwp.currentOrNull(), Kassert.format(fmt, args));
  }
}
