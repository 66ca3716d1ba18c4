package org.mpsafe.cli;

import com.google.common.base.Stopwatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Schedule;
import org.mpsafe.kern.Trace;
import org.mpsafe.net.ForwardingLoad;
import org.mpsafe.net.IpStat;
import org.mpsafe.net.NetStack;
import org.mpsafe.psref.PsrefOptions;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;

/**
 * Boots a machine, puts the PR's load on it and watches it: one {@link TrialResult}.
 *
 * <p>Steps, as in PR kern/51632: boot (NET_MPSAFE: psref-protected ifaddrs and rtentries),
 * configure interfaces and addresses, enable forwarding, start traffic on every CPU, start
 * address churn on the interfaces, wait for the first panic or the end of the time.
 */
final class TrialRunner {
  /**
   * What a run is made of: {@code bug} and {@code buggy} name the catalog entry and its variant,
   * whose boot options the machine gets ({@link Catalog.Entry#options}).
   */
  record Settings(
      String bug, boolean buggy, boolean xcWaitSpin, int cpus, int interfaces, int churnLwps,
      Duration duration, boolean detectors, Duration watchdog, Deterministic.Strategy strategy,
      Duration wallCap, int traceEvents) {

    /**
     * The low-priority xcall accounting the variant boots with: the entry's, else xcall's
     * default (the fixed one); only kern-51632's buggy variant sets the legacy one.
     */
    XcallAccounting xcall() {
      Object a = Catalog.get(bug).options().apply(buggy).get(Xcall.OPTION_ACCOUNTING);
      return a == null ? XcallAccounting.FIXED_DONEP : (XcallAccounting) a;
    }
  }

  /**
   * The deterministic machine's NICs: a burst of 64 packets every 16 ms of virtual time per CPU,
   * about half of what softnet forwards in that time at 10 µs a scheduling step, so the churn
   * LWPs get CPU time between the interrupts (the host-scheduled NICs' 20 µs pause would keep
   * every queue congested on virtual time and starve them).
   */
  static final long DET_NIC_PAUSE_NANOS = 16_000_000L;

  /** Receives counters while the trial runs (the status line). */
  interface Progress {
    void update(double elapsedS, TrialResult.Counters c, double fwdPerS);
  }

  private final Settings settings;

  TrialRunner(Settings settings) {
    this.settings = settings;
  }

  /**
   * Runs one trial until panic, hang, {@code deadlineNanos} or {@code interrupted}; shuts the
   * machine down (no thread left) before returning.
   */
  TrialResult run(long seed, long deadlineNanos, BooleanSupplier interrupted, Progress progress)
      throws InterruptedException {
    return run(seed, deadlineNanos, settings.duration().toNanos(), interrupted, progress);
  }

  /**
   * Runs one trial; on the deterministic machine it lasts at most {@code virtualNanos} of
   * virtual time (and the wall-clock cap), on the host-scheduled one until
   * {@code deadlineNanos}.
   */
  TrialResult run(long seed, long deadlineNanos, long virtualNanos, BooleanSupplier interrupted,
      Progress progress) throws InterruptedException {
    if (settings.strategy() != null) {
      return runDeterministic(seed, virtualNanos, interrupted, progress);
    }
    Stopwatch trial = Stopwatch.createStarted();
    Machine m = Machine.boot(config());
    ForwardingLoad load = null;
    NetStack net = null;
    List<TrialResult.Sample> samples = new ArrayList<>();
    try {
      net = NetStack.create(m);
      load = ForwardingLoad.start(net, loadConfig(seed, 20_000));
      long sampleNanos = sampleInterval(deadlineNanos - System.nanoTime());
      TrialResult.Counters last = TrialResult.Counters.ZERO;
      Stopwatch sinceSample = Stopwatch.createStarted();
      while (m.running() && !interrupted.getAsBoolean()) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          break;
        }
        m.awaitStop(Duration.ofNanos(Math.min(left, sampleNanos)));
        double t = seconds(trial);
        double dt = Math.max(1e-9, seconds(sinceSample));
        sinceSample.reset().start();
        TrialResult.Counters c = counters(m, net, load);
        double fwd = (c.packetsForwarded() - last.packetsForwarded()) / dt;
        samples.add(new TrialResult.Sample(t, fwd,
            (c.churnCycles() - last.churnCycles()) / dt, c.rtDestroys(), c.ifaDestroys(),
            c.xcEarlyReturns()));
        progress.update(t, c, fwd);
        last = c;
      }
    } finally {
      if (load != null) {
        load.stopTraffic();
      }
    }
    return finish(m, seed, seconds(trial), interrupted, net, load, samples, seconds(trial),
        false, 0);
  }

  private MachineConfig config() {
    MachineConfig c = MachineConfig.of(settings.cpus())
        .withTraceSize(settings.traceEvents())
        .withWatchdog(settings.watchdog())
        .withOption(Xcall.OPTION_WAIT_SPIN, settings.xcWaitSpin())
        .withOption(Xcall.OPTION_DETECTOR, settings.detectors())
        .withOption(PsrefOptions.OPTION_FRAME_DETECTOR, settings.detectors());
    for (Map.Entry<String, Object> o
        : Catalog.get(settings.bug()).options().apply(settings.buggy()).entrySet()) {
      c = c.withOption(o.getKey(), o.getValue());
    }
    return c;
  }

  /** The load of the entry, on {@code seed}, NICs pausing {@code nicPauseNanos} per burst. */
  private ForwardingLoad.Config loadConfig(long seed, long nicPauseNanos) {
    return Catalog.get(settings.bug()).load().apply(new ForwardingLoad.Config(
        settings.interfaces(), settings.churnLwps(), 4, seed, 64, nicPauseNanos));
  }

  /**
   * One trial on the deterministic machine: this thread boots it and lets it run in slices of
   * virtual time (the samples), so the outcome, the panic and the counters are functions of the
   * seed; wall-clock time appears only in {@code wallS} and the cap.
   */
  private TrialResult runDeterministic(long seed, long virtualNanos,
      BooleanSupplier interrupted, Progress progress) {
    Stopwatch wall = Stopwatch.createStarted();
    Machine m = Machine.boot(config().withOption(Deterministic.OPTION,
        Deterministic.of(seed, settings.strategy()).withWallCap(settings.wallCap())));
    List<TrialResult.Sample> samples = new ArrayList<>();
    ForwardingLoad load = null;
    NetStack net = null;
    boolean capHit = false;
    try {
      net = NetStack.create(m);
      load = ForwardingLoad.start(net, loadConfig(seed, DET_NIC_PAUSE_NANOS));
      long sample = sampleInterval(virtualNanos);
      long capNanos = settings.wallCap().toNanos();
      TrialResult.Counters last = TrialResult.Counters.ZERO;
      long lastT = m.uptimeNanos();
      while (m.running() && !interrupted.getAsBoolean()) {
        long left = virtualNanos - m.uptimeNanos();
        if (left <= 0) {
          break;
        }
        if (capNanos > 0 && wall.elapsed(TimeUnit.NANOSECONDS) >= capNanos) {
          capHit = true;
          break;
        }
        m.advance(Duration.ofNanos(Math.min(left, sample)));
        if (m.wallCapHit()) {
          capHit = true;
          break;
        }
        long t = m.uptimeNanos();
        double dt = Math.max(1e-9, (t - lastT) / 1e9);
        lastT = t;
        TrialResult.Counters c = counters(m, net, load);
        double fwd = (c.packetsForwarded() - last.packetsForwarded()) / dt;
        samples.add(new TrialResult.Sample(t / 1e9, fwd,
            (c.churnCycles() - last.churnCycles()) / dt, c.rtDestroys(), c.ifaDestroys(),
            c.xcEarlyReturns()));
        progress.update(t / 1e9, c, fwd);
        last = c;
      }
    } finally {
      if (load != null) {
        load.stopTraffic();
      }
    }
    double elapsed = m.panic().map(p -> p.elapsedNanos() / 1e9).orElse(m.uptimeNanos() / 1e9);
    return finish(m, seed, elapsed, interrupted, net, load, samples, seconds(wall), capHit,
        virtualNanos);
  }

  /** The trial's result from its stopped or finished machine, which it then shuts down. */
  private static TrialResult finish(Machine m, long seed, double elapsed,
      BooleanSupplier interrupted, NetStack net, ForwardingLoad load,
      List<TrialResult.Sample> samples, double wallS, boolean capHit, long virtualNanos) {
    TrialResult.Outcome outcome = m.panic().isPresent() ? TrialResult.Outcome.PANIC
        : m.hang().isPresent() ? TrialResult.Outcome.HANG
        : interrupted.getAsBoolean() ? TrialResult.Outcome.INTERRUPTED
        : TrialResult.Outcome.CLEAN;
    Map<Integer, String> names = m.lwpNames();
    TrialResult.Counters c = counters(m, net, load);
    Xcall xc = Xcall.of(m);
    Schedule schedule = m.schedule().orElse(null);
    List<Trace.Event> trace = m.panic().map(p -> p.trace()).orElseGet(m::traceSnapshot);
    List<String> alive = m.shutdown();
    if (!alive.isEmpty()) {
      throw new IllegalStateException("threads did not stop: " + alive);
    }
    return new TrialResult(outcome, seed, elapsed, m.panic().orElse(null),
        m.hang().orElse(null), xc.earlyReturnEvents(), Psrefs.useAfterReturnEvents(m), c,
        samples, names, schedule, wallS, capHit, virtualNanos, trace);
  }

  /** {@code s}'s elapsed time in seconds, at nanosecond resolution. */
  static double seconds(Stopwatch s) {
    return s.elapsed(TimeUnit.NANOSECONDS) / 1e9;
  }

  private static long sampleInterval(long runNanos) {
    long s = runNanos / 200;
    return Math.max(100_000_000L, Math.min(1_000_000_000L, s));
  }

  static TrialResult.Counters counters(Machine m, NetStack net, ForwardingLoad load) {
    Xcall xc = Xcall.of(m);
    IpStat ip = net == null ? new IpStat(0, 0, 0, 0, 0, 0, 0) : net.ipstat();
    return new TrialResult.Counters(ip.forwarded(), ip.total(), ip.noroute(), ip.qdrops(),
        net == null ? 0 : net.addrs().added(), net == null ? 0 : net.addrs().deleted(),
        net == null ? 0 : net.rt().destroys(), net == null ? 0 : net.addrs().destroys(),
        xc.lowpriCount(), xc.highpriCount(), xc.earlyReturns(), Psrefs.useAfterReturnCount(m),
        load == null ? 0 : load.churnCycles(), net == null ? 0 : net.detaches());
  }
}
