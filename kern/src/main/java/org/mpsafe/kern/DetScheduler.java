package org.mpsafe.kern;

import com.google.common.base.Ticker;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The deterministic machine's baton ({@link Deterministic}): exactly one thread runs kernel code
 * at any instant, and the machine decides which, from a seeded generator.
 *
 * <pre>
 * Implementation notes
 *
 * Participants are the machine's LWPs, in creation order, and the host: the thread that booted
 * the machine, while it is not adopted as an LWP. Each LWP still has its host thread; the baton
 * (holder) names the one participant allowed to run. Every other participant's thread parks
 * until the baton is handed to it, so the virtual CPUs, run queues and locks of the ordinary
 * machine see one thread at a time, in an order that is a function of the seed alone.
 *
 * A decision is made by the holder at a scheduling point: step() (a preemption point, a lock
 * entry, a busy-wait iteration, a yield), block() (the holder waits for a condition: a CPU
 * grant, a wakeup, with an optional virtual deadline), exit() (an LWP ends) or hostRun() (the
 * host lets the machine run until a condition). Each decision costs one step: the virtual
 * clock advances stepNanos, due devices fire (inline, as hardware: no preemption point runs
 * while they do), then a ready participant is chosen by the strategy:
 *   random   uniform among the ready ones (the holder too, unless it is busy-waiting);
 *   pct:d    PCT (Burckhardt et al., ASPLOS 2010): random initial priorities, the highest ready
 *            one runs; at d-1 change points drawn over the horizon the running LWP drops to a
 *            priority below every initial one. A busy-waiting holder lets the best other run.
 * When nobody is ready the clock jumps to the next timer (a timed wait's deadline, a device,
 * the host's deadline); with no timer either, the host gets the baton back if it waits, and
 * otherwise every LWP is blocked for good: a deadlock, reported as a hang.
 *
 * Every field is read and written by the holder only; handing the baton over is a volatile
 * write of holder followed by unpark, and taking it a volatile read of holder, so each holder
 * sees everything its predecessors wrote. The digest is FNV-1a over every decision (the chosen
 * participant's id, time jumps, device firings): equal digests mean equal schedules.
 * </pre>
 */
final class DetScheduler {
  static final long NONE = Long.MAX_VALUE;
  private static final Object HOST = new Object() {
    @Override
    public String toString() {
      return "host";
    }
  };
  private static final long FNV_PRIME = 0x100000001b3L;
  private static final int WATCHDOG_EVERY = 1024;
  /** How the deciding participant itself counts: runnable, waiting on its condition, or out. */
  private static final int SELF_READY = 0;
  private static final int SELF_WAITS = 1;
  private static final int SELF_GONE = 2;

  private final Machine machine;
  private final Deterministic cfg;
  private final SplittableRandom rnd;
  final Thread host;
  private volatile Object holder = HOST;
  private final List<Lwp> parts = new ArrayList<>();
  private final List<Lwp> ready = new ArrayList<>();
  private final List<DeviceSlot> devices = new ArrayList<>();
  private volatile long now;
  private long steps;
  private long digest = 0xcbf29ce484222325L;
  private long kaddrs;
  private boolean inDevice;
  private boolean hostWaiting;
  private BooleanSupplier hostCond;
  private long hostDeadline = NONE;
  private volatile boolean hostRecall;
  private final long[] changePoints;
  private int nextChange;
  final Ticker ticker = new Ticker() {
    @Override
    public long read() {
      return now;
    }
  };

  private static final class DeviceSlot {
    final String name;
    final Device device;
    long next;

    DeviceSlot(String name, Device device, long next) {
      this.name = name;
      this.device = device;
      this.next = next;
    }
  }

  DetScheduler(Machine machine, Deterministic cfg) {
    this.machine = machine;
    this.cfg = cfg;
    this.rnd = new SplittableRandom(cfg.seed());
    this.host = Thread.currentThread();
    Deterministic.Strategy s = cfg.strategy();
    if ("pct".equals(s.name())) {
      changePoints = new long[s.depth() - 1];
      for (int i = 0; i < changePoints.length; i++) {
        changePoints[i] = 1 + rnd.nextLong(s.horizon());
      }
      Arrays.sort(changePoints);
    } else {
      changePoints = new long[0];
    }
  }

  /** True while a device fires: no scheduling point runs inside it. */
  boolean inDevice() {
    return inDevice;
  }

  /** Virtual nanoseconds since boot. */
  long now() {
    return now;
  }

  Schedule schedule() {
    return new Schedule("deterministic", cfg.strategy().toString(), cfg.seed(), steps,
        String.format("%016x", digest), now);
  }

  /** A kernel address from this machine's own counter, so addresses repeat with the seed. */
  long nextKaddr() {
    return ++kaddrs;
  }

  /** True if the calling thread may run kernel code now (holds the baton). */
  boolean holdsBaton() {
    Object h = holder;
    return h == HOST ? Thread.currentThread() == host
        : h instanceof Lwp l && l.thread == Thread.currentThread();
  }

  /** Refuses a call into the machine from a thread that does not hold the baton. */
  void checkBaton(String what) {
    if (!holdsBaton() && machine.running()) {
      throw new IllegalStateException("deterministic machine: " + what + " from thread "
          + Thread.currentThread().getName() + ", which does not hold the baton (held by "
          + holder + "); drive the machine from the thread that booted it");
    }
  }

  /** A new LWP takes part, ready to run its first step (a kthread) or running (adopted). */
  void register(Lwp l, boolean running) {
    l.detPri = cfg.strategy().depth() + 1 + rnd.nextLong(1L << 40);
    l.detWaiting = !running;
    l.detCond = null;
    l.detDeadline = NONE;
    parts.add(l);
  }

  /** The host thread becomes LWP {@code l} (Machine.run/call/enter): the baton goes with it. */
  void adopt(Lwp l) {
    register(l, true);
    holder = l;
  }

  /** The adopted LWP {@code l} leaves: the host holds the baton again, the machine paused. */
  void unadopt(Lwp l) {
    if (holder == l) {
      parts.remove(l);
      holder = HOST;
    }
  }

  /** A kthread's first act: waits until the machine chooses it. */
  void begin(Lwp l) {
    waitTurn(l);
  }

  /** {@code l}'s thread ends: the machine chooses who runs next, without waiting. */
  void exit(Lwp l) {
    if (holder != l || !machine.running()) {
      return;   // unwinding after a stop: the schedule is over, the list no longer matters
    }
    Object next = decide(l, SELF_GONE, false);
    parts.remove(l);
    if (next != null && next != l) {
      pass(next);
    }
  }

  /** A scheduling point of the running LWP {@code l}; {@code spin} for a busy-wait iteration. */
  void step(Lwp l, boolean spin) {
    if (inDevice || holder != l || !machine.running()) {
      return;
    }
    Object next = decide(l, SELF_READY, spin);
    if (next != null && next != l) {
      l.detCond = null;
      l.detWaiting = true;
      pass(next);
      waitTurn(l);
    }
  }

  /**
   * The running LWP {@code l} waits until {@code cond} holds or the virtual clock reaches
   * {@code deadline} ({@link #NONE} for none); others run meanwhile. Returns when the machine
   * chose {@code l} again (with the condition or deadline met) or stopped.
   */
  void block(Lwp l, BooleanSupplier cond, long deadline) {
    if (holder != l || !machine.running()) {
      return;
    }
    l.detCond = cond;
    l.detDeadline = deadline;
    l.detWaiting = true;   // its deadline is a timer for this very decision
    Object next = decide(l, SELF_WAITS, false);
    if (next != null && next != l) {
      pass(next);
      waitTurn(l);
    }
    l.detWaiting = false;
    l.detCond = null;
    l.detDeadline = NONE;
  }

  /**
   * The host lets the machine run until {@code cond} holds, the virtual clock reaches
   * {@code deadline}, or the machine stops; on return the machine is paused and the host holds
   * the baton. The wall-clock cap, if any, recalls the baton at the next decision.
   */
  void hostRun(BooleanSupplier cond, long deadline, long wallCapNanos) {
    if (Thread.currentThread() != host || holder != HOST) {
      throw new IllegalStateException("deterministic machine: only the thread that booted it ("
          + host.getName() + "), while it holds the baton, can let it run");
    }
    if (!machine.running() || cond.getAsBoolean() || now >= deadline) {
      return;
    }
    hostWaiting = true;
    hostCond = cond;
    hostDeadline = deadline;
    hostRecall = false;
    Object next = decide(HOST, SELF_GONE, false);
    if (next == null || next == HOST) {
      hostWaiting = false;
      return;
    }
    pass(next);
    long cap = wallCapNanos;
    long wallDeadline = cap == 0 ? 0 : System.nanoTime() + cap;
    while (holder != HOST && machine.running()) {
      if (wallDeadline != 0 && !hostRecall) {
        long left = wallDeadline - System.nanoTime();
        if (left <= 0) {
          hostRecall = true;
        } else {
          LockSupport.parkNanos(this, left);
        }
      } else {
        LockSupport.park(this);
      }
    }
    hostWaiting = false;
  }

  /** The configured wall-clock cap of a host's wait, in nanoseconds (0: none). */
  long wallCapNanos() {
    return cfg.wallCap().toNanos();
  }

  /** True if the last {@link #hostRun} ended on the wall-clock cap. */
  boolean recalled() {
    return hostRecall;
  }

  void attachDevice(String name, long first, Device d) {
    devices.add(new DeviceSlot(name, d, Math.max(first, now)));
  }

  /** Stop: every parked participant wakes and unwinds. */
  void onStop() {
    for (Lwp l : machine.lwps()) {
      l.unpark();
    }
    LockSupport.unpark(host);
  }

  private void pass(Object next) {
    if (next instanceof Lwp n) {
      n.detWaiting = false;
      holder = n;
      n.unpark();
    } else {
      holder = HOST;
      LockSupport.unpark(host);
    }
  }

  /**
   * Parks until the baton is {@code me}'s. Once the machine has stopped, an LWP never runs
   * kernel code again: it unwinds at once ({@link MachineStopped}), so nothing it would have
   * done (a counter, a trace event) can follow the panic in an order the seed does not decide.
   */
  private void waitTurn(Object me) {
    while (holder != me) {
      if (!machine.running()) {
        if (me instanceof Lwp) {
          machine.checkRunning();
        }
        return;
      }
      LockSupport.park(this);
    }
  }

  private void mix(long v) {
    digest = (digest ^ v) * FNV_PRIME;
  }

  /**
   * One decision by the holder {@code self} (an LWP, or HOST from hostRun): who runs next.
   * Null when the machine stopped (a device's panic, the watchdog, a deadlock).
   */
  private Object decide(Object self, int selfMode, boolean spin) {
    for (;;) {
      if (!machine.running()) {
        return null;
      }
      steps++;
      now += cfg.stepNanos();
      fireDevices();
      if (!machine.running()) {
        return null;
      }
      if (steps % WATCHDOG_EVERY == 0 && machine.watchdogScan() != null) {
        return null;
      }
      if (hostWaiting && (hostRecall || hostCond.getAsBoolean() || now >= hostDeadline)) {
        hostWaiting = false;
        mix(0);
        return HOST;
      }
      if (nextChange < changePoints.length && steps >= changePoints[nextChange]) {
        if (self instanceof Lwp l) {
          l.detPri = ++nextChange;
        } else {
          nextChange++;
        }
      }
      ready.clear();
      for (int i = 0, n = parts.size(); i < n; i++) {
        Lwp p = parts.get(i);
        boolean r = p != self ? p.detWaiting && isReady(p)
            : selfMode == SELF_READY || (selfMode == SELF_WAITS && isReady(p));
        if (r) {
          ready.add(p);
        }
      }
      if (ready.isEmpty()) {
        long t = nextTimer();
        if (t == NONE) {
          // Nothing will ever run again by itself. Quiescent if every LWP idles: the host gets
          // the machine back. A deadlock if one is blocked, even if the host might still act.
          String blocked = blockedForGood();
          if (hostWaiting && blocked == null) {
            // Idle until the host's deadline: time passes, then the host has the machine back.
            if (hostDeadline != NONE && hostDeadline > now) {
              mix(-hostDeadline);
              now = hostDeadline;
            }
            hostWaiting = false;
            mix(0);
            return HOST;
          }
          machine.stopHung(new HangReport(blocked == null ? "-" : blocked, "-", 0, machine.ps(),
              machine.sched.cpuLines(), "deadlock: no LWP can run and no timer is pending"
                  + (blocked == null ? "" : ", " + blocked + " is blocked")
                  + " (deterministic step " + steps + ")"));
          return null;
        }
        if (hostWaiting && t > hostDeadline) {
          t = hostDeadline;
        }
        if (t > now) {
          mix(-t);
          now = t;
        }
        continue;
      }
      Lwp c = choose(self, spin);
      mix(c.id());
      return c;
    }
  }

  /** The first LWP blocked other than idly (asleep on a lock, waiting for a CPU), or null. */
  private String blockedForGood() {
    for (Lwp l : parts) {
      Lwp.State s = l.state;
      if ((s == Lwp.State.SLEEP && !l.idleWait) || s == Lwp.State.RUNNABLE) {
        return Scheduler.describe(l);
      }
    }
    return null;
  }

  private boolean isReady(Lwp p) {
    BooleanSupplier c = p.detCond;
    return c == null || c.getAsBoolean() || now >= p.detDeadline;
  }

  private Lwp choose(Object self, boolean spin) {
    int n = ready.size();
    boolean skipSelf = spin && n > 1 && self instanceof Lwp && ready.contains(self);
    if ("random".equals(cfg.strategy().name())) {
      if (!skipSelf) {
        return ready.get(rnd.nextInt(n));
      }
      int k = rnd.nextInt(n - 1);
      for (Lwp p : ready) {
        if (p != self && k-- == 0) {
          return p;
        }
      }
      throw new AssertionError("unreachable");
    }
    Lwp best = null;
    for (Lwp p : ready) {
      if (skipSelf && p == self) {
        continue;
      }
      if (best == null || p.detPri > best.detPri) {
        best = p;
      }
    }
    return best;
  }

  /** The next timed wait's deadline or device firing; NONE if none (the host's is apart). */
  private long nextTimer() {
    long t = NONE;
    for (Lwp p : parts) {
      if (p.detWaiting && p.detDeadline < t) {
        t = p.detDeadline;
      }
    }
    for (DeviceSlot d : devices) {
      if (d.next < t) {
        t = d.next;
      }
    }
    return t;
  }

  private void fireDevices() {
    for (int i = 0; i < devices.size(); i++) {
      DeviceSlot d = devices.get(i);
      if (d.next <= now) {
        inDevice = true;
        try {
          long next = d.device.fire(now);
          d.next = Math.max(next, now + 1);
        } finally {
          inDevice = false;
        }
        mix(0x5eed_0000L + i);
      }
    }
  }
}
