package org.mpsafe.bench;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Scheduling decisions per second of the deterministic machine, beside CPU hand-overs per
 * second of the host-scheduled one.
 *
 * <ul>
 *   <li>{@code deterministicDecisions}: a 4-CPU deterministic machine whose four bound kthreads
 *       loop on preemption points, so every decision has four ready LWPs; one invocation lets it
 *       run {@link #STEPS} steps of virtual time. With {@code random} most decisions hand the
 *       baton to another thread (an unpark and a park); with {@code pct:3} the highest-priority
 *       LWP keeps it until a change point, so few decisions switch.
 *   <li>{@code hostHandovers}: two LWPs on the one CPU of a host-scheduled machine yielding to
 *       each other: each yield is a hand-over of the CPU through the scheduler (park/unpark).
 * </ul>
 * Both run on one benchmark thread; the baton allows only one LWP to run at a time, so the
 * deterministic machine uses one host core however many virtual CPUs it has.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.NODIAGNOSTIC})
@Threads(1)
public class ScheduleBench {
  static final int STEPS = 10_000;

  /** A deterministic machine whose four CPUs are always busy. */
  @State(Scope.Thread)
  public static class Det {
    @Param({"random", "pct:3"})
    public String strategy;

    Machine machine;
    final AtomicBoolean stop = new AtomicBoolean();

    @Setup(Level.Trial)
    public void boot() {
      machine = BenchSupport.boot(MachineConfig.of(4).withOption(Deterministic.OPTION,
          Deterministic.of(1, Deterministic.Strategy.parse(strategy))));
      for (int i = 0; i < 4; i++) {
        machine.kthreadCreate(Pri.PRI_KTHREAD, 0, machine.cpu(i), () -> {
          while (!stop.get()) {
            Kern.preempt();
          }
        }, "spin/" + i);
      }
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      stop.set(true);
      BenchSupport.shutdown(machine);
    }
  }

  @Benchmark
  @OperationsPerInvocation(STEPS)
  public long deterministicDecisions(Det d) {
    d.machine.advance(Duration.ofNanos(STEPS * Deterministic.DEFAULT_STEP_NANOS));
    return d.machine.uptimeNanos();
  }

  /** One CPU, a kthread that yields whenever anyone waits, and the benchmark thread. */
  @State(Scope.Thread)
  public static class Host {
    Machine machine;
    Machine.Entry entry;
    final AtomicBoolean stop = new AtomicBoolean();

    @Setup(Level.Trial)
    public void boot() {
      machine = BenchSupport.boot(BenchSupport.config(1));
      machine.kthreadCreate(Pri.PRI_USER, 0, machine.cpu(0), () -> {
        while (!stop.get()) {
          Kern.yield();
        }
      }, "yielder/0");
      entry = machine.enter("bench/0", machine.cpu(0));
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      stop.set(true);
      entry.exit();
      BenchSupport.shutdown(machine);
    }
  }

  /** Two hand-overs per yield: to the yielder and back. */
  @Benchmark
  @OperationsPerInvocation(2)
  public void hostHandovers(Host h) {
    Kern.yield();
  }
}
