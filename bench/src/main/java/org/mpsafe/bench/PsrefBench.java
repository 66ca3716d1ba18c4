package org.mpsafe.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KRwlock;
import org.mpsafe.kern.Machine;
import org.mpsafe.psref.Psref;
import org.mpsafe.psref.PsrefClass;
import org.mpsafe.psref.PsrefTarget;
import org.mpsafe.psref.Psrefs;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code psref_acquire} + {@code psref_release} of one shared target, against the two usual
 * ways of counting references to a shared object: an {@link AtomicLong} refcount
 * ({@code incrementAndGet}/{@code decrementAndGet}, one cache line for every thread) and a
 * {@link LongAdder} ({@code increment}/{@code decrement}, striped cells, still a CAS each).
 *
 * <p>Each psref thread is an LWP bound to its own virtual CPU ({@link Machine#enter}); its
 * {@link Psref} is its own (as a C caller's is on its stack). Target: with 2 threads psref
 * ≥ 25× the AtomicLong and ≥ 3× the LongAdder, 0 B/op ({@code -prof gc}), about 3 ns.
 * Forked with DIAGNOSTIC off; {@link PsrefDiagnosticBench} repeats psref with it on. For
 * reference, {@code krwlockRead*} is a reader enter + exit of a {@code krwlock} (what
 * {@code rt_lock} costs {@link LookupBench} per lookup).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.NODIAGNOSTIC, BenchSupport.HOST_THREADS,
    BenchSupport.HOST_THREADS_CLASS})
public class PsrefBench {

  /** One machine of 2 CPUs and one target of a psref class at IPL_SOFTNET (as rtentry's). */
  @State(Scope.Benchmark)
  public static class Shared {
    Machine machine;
    PsrefClass cls;
    final PsrefTarget target = new PsrefTarget("bench");
    final AtomicInteger nextCpu = new AtomicInteger();
    final AtomicLong refcnt = new AtomicLong();
    final LongAdder adder = new LongAdder();
    /** A reader/writer lock like {@code rt_lock}, for the reader enter/exit benchmarks. */
    final KRwlock rwlock = new KRwlock("rt_lock");

    @Setup(Level.Trial)
    public void boot() {
      machine = BenchSupport.boot(BenchSupport.config(2));
      machine.run("setup", () -> {
        cls = Psrefs.classCreate("bench", Ipl.IPL_SOFTNET);
        Psrefs.targetInit(target, cls);
      });
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      BenchSupport.shutdown(machine);
    }
  }

  /** A benchmark thread as an LWP bound to its own CPU, with its own psref. */
  @State(Scope.Thread)
  public static class OnCpu {
    Machine.Entry entry;
    final Psref psref = new Psref();

    @Setup(Level.Trial)
    public void enter(Shared s) {
      entry = BenchSupport.enterNextCpu(s.machine, s.nextCpu, "bench");
    }

    @TearDown(Level.Trial)
    public void exit() {
      entry.exit();
    }
  }

  static void psrefPair(Shared s, OnCpu t) {
    Psrefs.acquire(t.psref, s.target, s.cls);
    Psrefs.release(t.psref, s.target, s.cls);
  }

  @Benchmark
  @Threads(1)
  public void psref1Thread(Shared s, OnCpu t) {
    psrefPair(s, t);
  }

  @Benchmark
  @Threads(2)
  public void psref2Threads(Shared s, OnCpu t) {
    psrefPair(s, t);
  }

  // ---- for reference: rt_lock's reader enter + exit (a CAS each), what LookupBench adds ----

  @Benchmark
  @Threads(1)
  public void krwlockRead1Thread(Shared s, OnCpu t) {
    s.rwlock.enter(KRwlock.RW_READER);
    s.rwlock.exit();
  }

  @Benchmark
  @Threads(2)
  public void krwlockRead2Threads(Shared s, OnCpu t) {
    s.rwlock.enter(KRwlock.RW_READER);
    s.rwlock.exit();
  }

  // ---- baseline: AtomicLong refcount on the shared target ----------------------------------

  @Benchmark
  @Threads(1)
  public long atomicRefcount1Thread(Shared s) {
    s.refcnt.incrementAndGet();
    return s.refcnt.decrementAndGet();
  }

  @Benchmark
  @Threads(2)
  public long atomicRefcount2Threads(Shared s) {
    s.refcnt.incrementAndGet();
    return s.refcnt.decrementAndGet();
  }

  // ---- baseline: LongAdder --------------------------------------------------------------------

  @Benchmark
  @Threads(1)
  public void longAdder1Thread(Shared s) {
    s.adder.increment();
    s.adder.decrement();
  }

  @Benchmark
  @Threads(2)
  public void longAdder2Threads(Shared s) {
    s.adder.increment();
    s.adder.decrement();
  }
}
