package org.mpsafe.kern;

import com.google.common.base.Ticker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A machine of virtual CPUs on which ported NetBSD code runs: the rump kernel's model
 * ({@code sys/rump/librump/rumpkern/scheduler.c}) with priority preemption at preemption points.
 *
 * <pre>{@code
 * try (Machine m = Machine.boot(MachineConfig.of(4))) {
 *   Lwp l = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> work(), "worker/1");
 *   ...
 *   m.panic().ifPresent(p -> System.out.println(p.headline()));
 * }   // shutdown: every LWP stopped and joined
 * }</pre>
 *
 * <p>Lifecycle: boot, run, then one of panic, hang (watchdog) or shutdown stops the machine:
 * from then on no LWP runs kernel code (each unwinds at its next preemption point, CPU request
 * or wakeup with {@link MachineStopped}). {@link #shutdown()} (and {@code close}) stops and
 * joins every LWP, also after a panic; no thread is left behind.
 *
 * <pre>
 * Implementation notes
 *
 * This class is the machine's lifecycle: boot, kthreads, panic, stop, shutdown. Every LWP is a
 * platform thread (LwpThread) or a host thread adopted for the length of a run(...) call or
 * between enter(...) and exit() (HostAdoption). Scheduling, and why per-CPU data needs no
 * atomics: Scheduler. Hangs: Watchdog. The first panic wins (panicRef CAS); later panics in
 * other LWPs (a common cascade) unwind their LWPs and are not recorded. Differences from NetBSD: no hardware interrupts (cpu_intr_p() is false);
 * no time slicing except at yield(); see docs/netbsd-map.md.
 * </pre>
 */
public final class Machine implements AutoCloseable {
  /** {@code KTHREAD_MPSAFE}: accepted and ignored (every LWP is MP-safe here). */
  public static final int KTHREAD_MPSAFE = 0x01;

  /** How a machine ended. */
  public enum Outcome { RUNNING, PANIC, HANG, SHUTDOWN }

  private static final System.Logger LOG = System.getLogger(Machine.class.getName());

  private final MachineConfig config;
  private final Cpu[] cpus;
  final Scheduler sched;
  private final Softint softint;
  private final long bootNanos;
  private final AtomicInteger nextLid = new AtomicInteger();
  private final List<Lwp> lwps = new CopyOnWriteArrayList<>();
  /** The name of every LWP this machine ever had, by id (trace events name LWPs by id). */
  private final Map<Integer, String> names = new ConcurrentHashMap<>();
  private final AtomicReference<Panic> panicRef = new AtomicReference<>();
  private final AtomicReference<HangReport> hangRef = new AtomicReference<>();
  private final Map<Object, Object> subsystems = new ConcurrentHashMap<>();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final List<Runnable> stopListeners = new CopyOnWriteArrayList<>();
  private volatile boolean running = true;
  private volatile Outcome outcome = Outcome.RUNNING;
  private final Watchdog watchdog;
  /** The baton of a deterministic machine ({@link Deterministic}); null when host-scheduled. */
  final DetScheduler det;
  /** How a waiting host thread spins before it parks (never on the deterministic machine). */
  final HandoffSpin spin;

  private Machine(MachineConfig config, Ticker watchdogTicker) {
    this.config = config;
    this.bootNanos = System.nanoTime();
    Deterministic d = config.option(Deterministic.OPTION, null);
    this.det = d == null ? null : new DetScheduler(this, d);
    if (det != null) {
      Kaddr.allocateFrom(det);
    }
    this.cpus = new Cpu[config.ncpu()];
    for (int i = 0; i < cpus.length; i++) {
      cpus[i] = new Cpu(this, i, config.traceSize());
      cpus[i].trace.start(bootNanos, det);
    }
    this.spin = new HandoffSpin(this, config);
    this.sched = new Scheduler(this, cpus);
    this.softint = new Softint(this);
    for (Cpu c : cpus) {
      softint.attach(c);
    }
    this.watchdog = new Watchdog(this, sched, det != null ? det.ticker : watchdogTicker,
        config.watchdog().toNanos(), stopped, det == null);
  }

  /** Boots a machine: CPUs, softint LWPs (started before this returns), the watchdog. */
  public static Machine boot(MachineConfig config) {
    return boot(config, Ticker.systemTicker());
  }

  /**
   * Boots a machine whose watchdog measures blocked time on {@code watchdogTicker} (a test's
   * fake clock), not the system's.
   */
  static Machine boot(MachineConfig config, Ticker watchdogTicker) {
    Machine m = new Machine(config, watchdogTicker);
    for (Lwp l : m.lwps) {
      l.thread.start();
    }
    // Boot returns once every softint LWP has started: one still in state NEW would not be made
    // runnable by a softint_schedule, which would then miss the caller's next splx()/mutex_exit.
    if (m.det != null) {
      m.det.hostRun(m.softint::allStarted, DetScheduler.NONE, 0);
    }
    try {
      if (!m.softint.awaitStarted(TimeUnit.SECONDS.toNanos(30))) {
        m.shutdown();
        throw new IllegalStateException("softint LWPs did not start in 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      for (BootAttachment a : BootAttachment.Loaded.ALL) {
        a.attach(m);
      }
    } catch (RuntimeException | Error e) {
      m.shutdown();
      throw e;
    }
    m.watchdog.start();
    return m;
  }

  public MachineConfig config() {
    return config;
  }

  /** {@code ncpu}. */
  public int ncpu() {
    return cpus.length;
  }

  /** {@code cpu_lookup(i)}. */
  public Cpu cpu(int index) {
    return cpus[index];
  }

  public List<Cpu> cpus() {
    return List.of(cpus);
  }

  public Softint softint() {
    return softint;
  }

  public int hz() {
    return config.hz();
  }

  /** {@code getticks()}. */
  public int getticks() {
    return (int) (uptimeNanos() * config.hz() / 1_000_000_000L);
  }

  long ticksToNanos(int ticks) {
    return ticks * (1_000_000_000L / config.hz());
  }

  /** Nanoseconds since boot: virtual on a deterministic machine, the host's otherwise. */
  public long uptimeNanos() {
    return det != null ? det.now() : System.nanoTime() - bootNanos;
  }

  /** The clock timed waits are measured on: {@code System.nanoTime()}, or virtual time. */
  long clockNanos() {
    return det != null ? det.now() : System.nanoTime();
  }

  /** True if this machine is deterministic ({@link Deterministic}). */
  public boolean deterministic() {
    return det != null;
  }

  /** The schedule so far of a deterministic machine: seed, steps, digest, virtual time. */
  public Optional<Schedule> schedule() {
    return det == null ? Optional.empty() : Optional.of(det.schedule());
  }

  /**
   * Lets a deterministic machine run for {@code virtual} more virtual time, or until it stops;
   * then it pauses and the calling thread (the one that booted it) has it to itself. Returns
   * true if the machine is still running.
   *
   * @throws IllegalStateException on a host-scheduled machine, or from another thread
   */
  public boolean advance(Duration virtual) {
    advanceUntil(() -> false, virtual);
    return running;
  }

  /**
   * Lets a deterministic machine run until {@code cond} holds (checked at every scheduling
   * step), {@code virtualLimit} more virtual time has passed, or it stops; then it pauses.
   * Returns true if {@code cond} holds.
   *
   * @throws IllegalStateException on a host-scheduled machine, or from another thread
   */
  public boolean advanceUntil(BooleanSupplier cond, Duration virtualLimit) {
    if (det == null) {
      throw new IllegalStateException("advance needs a deterministic machine");
    }
    long limit = virtualLimit.toNanos();
    long deadline = limit >= DetScheduler.NONE - det.now() ? DetScheduler.NONE
        : det.now() + limit;
    det.hostRun(cond, deadline, det.wallCapNanos());
    return cond.getAsBoolean();
  }

  /** True if the last advance of a deterministic machine ended on its wall-clock cap. */
  public boolean wallCapHit() {
    return det != null && det.recalled();
  }

  /**
   * Attaches a device to a deterministic machine: it fires first at virtual time
   * {@code firstNanos} since boot, then whenever it asks ({@link Device#fire}).
   *
   * @throws IllegalStateException on a host-scheduled machine, whose devices are host threads
   */
  public void attachDevice(String name, long firstNanos, Device device) {
    if (det == null) {
      throw new IllegalStateException("attachDevice needs a deterministic machine: " + name);
    }
    det.checkBaton("attachDevice " + name);
    det.attachDevice(name, firstNanos, device);
  }

  /** The watchdog clock (nanoseconds since boot, never 0) that stamps {@link Lwp#since}. */
  long watchdogNow() {
    return watchdog.now();
  }

  /** The watchdog's look at the machine, for tests with a fake watchdog clock. */
  HangReport watchdogScan() {
    return watchdog.scan();
  }

  /**
   * The passive subsystem of type {@code key} (state, no threads) of this machine, made by
   * {@code factory} on first use. The factory must not block or create LWPs: a subsystem with
   * service threads attaches at boot ({@link BootAttachment}, {@link #attachSubsystem}).
   */
  @SuppressWarnings("unchecked")
  public <T> T subsystem(Class<T> key, Function<Machine, T> factory) {
    Object v = subsystems.get(key);
    if (v == null) {
      synchronized (subsystems) {
        v = subsystems.get(key);
        if (v == null) {
          v = factory.apply(this);
          subsystems.put(key, v);
        }
      }
    }
    return (T) v;
  }

  /** The subsystem of type {@code key} attached at boot, or null if none attached. */
  public <T> T subsystem(Class<T> key) {
    return key.cast(subsystems.get(key));
  }

  /**
   * Registers {@code value} as this machine's subsystem of type {@code key}: called by a
   * {@link BootAttachment} while the machine boots.
   *
   * @throws IllegalStateException if a subsystem of that type is attached already
   */
  public <T> void attachSubsystem(Class<T> key, T value) {
    if (subsystems.putIfAbsent(key, key.cast(value)) != null) {
      throw new IllegalStateException(key.getSimpleName() + " is attached to this machine already");
    }
  }

  /**
   * {@code kthread_create(pri, flags, ci, func, arg, NULL, name)}: a kernel thread, bound to
   * {@code ci} when given, started at once.
   */
  public Lwp kthreadCreate(int pri, int flags, Cpu ci, Runnable fn, String name) {
    if (fn == null || name == null) {
      throw new IllegalArgumentException("kthread_create needs a function and a name");
    }
    if (ci != null && ci.machine != this) {
      throw new IllegalArgumentException("cpu " + ci + " belongs to another machine");
    }
    checkRunning();
    if (det != null) {
      det.checkBaton("kthread_create " + name);
    }
    Lwp l = newLwp(name, pri, ci != null ? Lwp.LP_BOUND : 0, ci, fn);
    l.thread.start();
    return l;
  }

  Lwp newLwp(String name, int pri, int pflag, Cpu bound, Runnable fn) {
    Lwp[] self = new Lwp[1];
    Lwp l = new Lwp(this, nextLid.incrementAndGet(), name, pri, pflag, bound,
        () -> lwpMain(self[0], fn));
    self[0] = l;
    lwps.add(l);
    names.put(l.id(), l.name());
    if (det != null) {
      det.register(l, false);
    }
    return l;
  }

  private void lwpMain(Lwp l, Runnable fn) {
    try {
      if (det != null) {
        det.begin(l);
        checkRunning();
      }
      sched.acquire(l);
      fn.run();
      kthreadExit(l);
    } catch (KernelPanic | MachineStopped e) {
      // recorded (panic) or expected (stop): the LWP just ends
    } catch (Throwable t) {
      try {
        panicNow(l, Kassert.format("kthread %s: uncaught %s", l.name(), t));
      } catch (KernelPanic ignored) {
        // recorded
      }
      LOG.log(System.Logger.Level.DEBUG, "LWP " + l.name() + " threw", t);
    } finally {
      l.state = Lwp.State.ZOMBIE;
      if (det != null) {
        det.exit(l);
      }
    }
  }

  /** {@code lwp_exit}'s checks, then the CPU is given up for good. */
  void kthreadExit(Lwp l) {
    Kassert.kassertMsg(l.psrefs == 0, "l->l_psrefs == 0", "sys/kern/kern_lwp.c", 1094,
        "%s: l_psrefs=%d", "lwp_exit", l.psrefs);
    sched.release(l, Lwp.State.ZOMBIE);
  }

  /**
   * Runs {@code body} on this machine in the calling host thread, adopted as an unbound LWP
   * named {@code name} for the call ({@code rump_schedule} / {@code rump_unschedule}).
   * A panic in {@code body} is thrown here as {@link KernelPanic}.
   */
  public void run(String name, Runnable body) {
    call(name, () -> {
      body.run();
      return null;
    });
  }

  /** {@link #run} returning a value. */
  public <T> T call(String name, Supplier<T> body) {
    return HostAdoption.call(this, name, body);
  }

  /**
   * Adopts the calling host thread as an LWP named {@code name} until {@link Entry#exit()}:
   * {@code rump_schedule()} now, {@code rump_unschedule()} at exit, with any amount of host code
   * in between (e.g. a JMH benchmark thread that enters in its setup and exits in its teardown).
   * With {@code bindTo} the LWP is bound there ({@code LP_BOUND}, as after {@code curlwp_bind()}
   * on that CPU), so it may hold passive references; with null it is unbound, like
   * {@link #run}. Blocks until the CPU is free.
   *
   * <p>While entered, the thread holds its CPU: other LWPs get it only at the thread's
   * preemption points or when it blocks in kernel code, so a thread that enters and then idles
   * in host code starves that CPU's service LWPs (xcall, softints) until it calls kernel code
   * again or exits. Only the entering thread may call {@link Entry#exit()}. A
   * {@link HostThread} is adopted without a {@code ThreadLocal}, so its kernel calls find
   * {@code curlwp} as cheaply as a kthread's.
   *
   * @throws IllegalStateException if the thread is already on an LWP
   * @throws IllegalArgumentException if {@code bindTo} is a CPU of another machine
   * @throws MachineStopped if the machine has stopped
   */
  public Entry enter(String name, Cpu bindTo) {
    return new Entry(HostAdoption.enter(this, name, bindTo));
  }

  /**
   * A host thread adopted by {@link #enter}: {@link #exit()} (or {@code close}) gives its CPU
   * back and turns it into a plain host thread again.
   */
  public final class Entry implements AutoCloseable {
    private final Lwp lwp;
    private boolean exited;

    private Entry(Lwp lwp) {
      this.lwp = lwp;
    }

    /** The LWP the thread runs as until {@link #exit()}. */
    public Lwp lwp() {
      return lwp;
    }

    /**
     * Leaves the machine: the LWP must hold no passive reference ({@code l_psrefs == 0}, a
     * panic otherwise, as at LWP exit) and gives its CPU up. After a panic or shutdown it only
     * forgets the adoption. A second call does nothing.
     *
     * @throws IllegalStateException if called from another thread
     */
    public void exit() {
      if (lwp.thread != Thread.currentThread()) {
        throw new IllegalStateException("exit of " + lwp + " from another thread: "
            + Thread.currentThread().getName());
      }
      if (exited) {
        return;
      }
      exited = true;
      HostAdoption.exit(Machine.this, lwp);
    }

    @Override
    public void close() {
      exit();
    }
  }

  /** A new LWP for the calling host thread (no thread of its own), listed in {@link #lwps}. */
  Lwp newHostLwp(String name, int pflag, Cpu bound) {
    if (det != null) {
      det.checkBaton("run/call/enter " + name);
    }
    Lwp l = new Lwp(this, nextLid.incrementAndGet(), name, Pri.PRI_USER, pflag, bound, null);
    lwps.add(l);
    names.put(l.id(), l.name());
    if (det != null) {
      det.adopt(l);
    }
    return l;
  }

  /** Takes an adopted host thread's LWP off the list once the thread left the machine. */
  void forgetHostLwp(Lwp l) {
    lwps.remove(l);
    if (det != null) {
      det.unadopt(l);
    }
  }

  /** True until a panic, a hang or shutdown. */
  public boolean running() {
    return running;
  }

  /** Throws {@link MachineStopped} once the machine has stopped. */
  public void checkRunning() {
    if (!running) {
      throw new MachineStopped("machine stopped: " + outcome);
    }
  }

  public Outcome outcome() {
    return outcome;
  }

  /** The first panic, if the machine panicked. */
  public Optional<Panic> panic() {
    return Optional.ofNullable(panicRef.get());
  }

  /** The watchdog's report, if it found a hang. */
  public Optional<HangReport> hang() {
    return Optional.ofNullable(hangRef.get());
  }

  /**
   * Waits up to {@code timeout} for the machine to stop; true if it has. On a deterministic
   * machine the thread that booted it lets it run meanwhile (the timeout is wall-clock time;
   * the machine pauses when it passes).
   */
  public boolean awaitStop(Duration timeout) throws InterruptedException {
    if (det != null && det.holdsBaton() && Thread.currentThread() == det.host) {
      det.hostRun(() -> !running, DetScheduler.NONE, timeout.toNanos());
      return !running;
    }
    return stopped.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Runs {@code r} (in the stopping thread) when the machine stops; at once if it has. */
  public void onStop(Runnable r) {
    stopListeners.add(r);
    if (!running) {
      r.run();
    }
  }

  /**
   * Records a panic (the first one wins), stops every CPU, returns the exception to throw.
   * {@code l} is the panicking LWP, or null for a host thread (a device, the scheduler called
   * from one). The trace snapshot is taken here, at the panic, before the other CPUs stop; each
   * ring keeps only whole events ({@link Trace}).
   */
  KernelPanic panicNow(Lwp l, String message) {
    if (l != null && l.machine() != this) {
      l = null;
    }
    Cpu c = l == null ? null : l.cpu;
    if (c != null && c.owner == l) {
      c.trace.add(Trace.PANIC, l.id(), 0, 0);
    }
    List<Trace.Event> trace = traceSnapshot();
    String who = l == null ? Thread.currentThread().getName() : l.name();
    Panic p = new Panic(message, c == null ? -1 : c.index(), who, uptimeNanos(),
        List.copyOf(Arrays.asList(Thread.currentThread().getStackTrace())), List.copyOf(trace));
    if (stop(Outcome.PANIC, () -> panicRef.set(p))) {
      PanicEvent ev = new PanicEvent();
      if (ev.isEnabled()) {
        ev.message = message;
        ev.cpu = p.cpu();
        ev.lwp = p.lwp();
        ev.commit();
      }
    }
    return new KernelPanic(p);
  }

  private void stop(Outcome why) {
    stop(why, () -> { });
  }

  /** Stops the machine with the watchdog's report unless it already stopped; true if it did. */
  boolean stopHung(HangReport h) {
    return stop(Outcome.HANG, () -> hangRef.set(h));
  }

  /**
   * Stops the machine unless it already stopped; {@code publish} records why (the panic, the
   * hang report) after the outcome is set, so whoever sees the record also sees the outcome.
   * Returns true if this call stopped it.
   */
  private boolean stop(Outcome why, Runnable publish) {
    synchronized (this) {
      if (!running) {
        return false;
      }
      outcome = why;
      running = false;
      publish.run();
    }
    if (det != null) {
      det.onStop();
    }
    sched.stopAll();
    for (Lwp l : lwps) {
      if (l.thread != Thread.currentThread()) {
        l.unpark();
      }
    }
    stopped.countDown();
    for (Runnable r : stopListeners) {
      try {
        r.run();
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "stop listener threw", e);
      }
    }
    return true;
  }

  /**
   * Stops the machine (if still running) and joins every LWP and the watchdog. Returns the
   * names of threads that did not end within 10 s (an LWP looping without a preemption point);
   * empty when all ended.
   */
  public List<String> shutdown() {
    stop(Outcome.SHUTDOWN);
    if (det != null) {
      Kaddr.forget(det);
    }
    List<String> alive = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Thread> threads = new ArrayList<>();
    for (Lwp l : lwps) {
      if (l.thread instanceof LwpThread && l.thread != Thread.currentThread()) {
        threads.add(l.thread);
      }
    }
    Thread w = watchdog.thread();
    if (w != null && w != Thread.currentThread()) {
      threads.add(w);
    }
    for (Thread t : threads) {
      try {
        LockSupport.unpark(t);
        t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (t.isAlive()) {
        alive.add(t.getName());
      }
    }
    return alive;
  }

  @Override
  public void close() {
    shutdown();
  }

  /**
   * A snapshot of every LWP: {@code name state wchan cpu}, how long it has waited and, for an
   * LWP asleep on an adaptive mutex, the mutex's owner ({@code owner ifconfig/1}).
   */
  public List<String> ps() {
    List<String> out = new ArrayList<>();
    long now = watchdogNow();
    for (Lwp l : lwps) {
      Lwp.State s = l.state;
      String w = s == Lwp.State.RUNNABLE ? "cpu" : l.wchan;
      long since = l.since;
      Cpu c = l.cpu;
      KMutex mtx = l.wmutex;
      Lwp o = s == Lwp.State.SLEEP && mtx != null ? mtx.owner() : null;
      out.add(String.format("%-12s lid=%-3d %-8s %-10s %s%s%s", l.name(), l.id(), s,
          w == null ? "-" : w, c == null ? "-" : c.name(),
          since != 0 && s != Lwp.State.ONPROC ? " for " + (now - since) / 1_000_000 + " ms" : "",
          o == null ? "" : ", owner " + o.name()));
    }
    return out;
  }

  /**
   * The last trace events of every CPU, oldest first: whole events only, taken while the CPUs
   * may run ({@link Trace}).
   */
  public List<Trace.Event> traceSnapshot() {
    List<Trace.Event> trace = new ArrayList<>();
    for (Cpu x : cpus) {
      trace.addAll(x.trace.snapshot());
    }
    trace.sort(Comparator.comparingLong(Trace.Event::nanos));
    return trace;
  }

  /** The name of every LWP this machine has had, by LWP id, also of those that ended. */
  public Map<Integer, String> lwpNames() {
    return Map.copyOf(names);
  }

  /** The LWPs of this machine (a snapshot). */
  public List<Lwp> lwps() {
    return List.copyOf(lwps);
  }
}
