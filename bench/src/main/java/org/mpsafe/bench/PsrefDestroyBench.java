package org.mpsafe.bench;

import java.util.concurrent.TimeUnit;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;
import org.mpsafe.psref.Psref;
import org.mpsafe.psref.PsrefClass;
import org.mpsafe.psref.PsrefOptions;
import org.mpsafe.psref.PsrefTarget;
import org.mpsafe.psref.Psrefs;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code psref_target_destroy}, on a machine of 2 CPUs, with the 2016 drain (low-priority
 * xcall, the PR's version) or NetBSD 8's ({@code XC_HIGHPRI_IPL}):
 * <ul>
 *   <li>{@link #psrefDestroyNoHolders}: nobody holds a reference — one {@code psreffed_p} round
 *       (one broadcast + {@code xc_wait}) and return. Its baseline is {@link XcallBench}'s
 *       broadcast of the same priority.
 *   <li>{@link #psrefLastReleaseToDestroy}: a destroyer LWP (bound to cpu0) waits in
 *       {@code psref_target_destroy} while the benchmark thread (bound to cpu1) holds the last
 *       reference; measured: from {@code psref_release} until the destroy has returned (the
 *       release's {@code cv_broadcast} wakes the destroyer, which runs one more round). Target
 *       ≤ 100 µs.
 * </ul>
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.NODIAGNOSTIC, BenchSupport.HOST_THREADS,
    BenchSupport.HOST_THREADS_CLASS})
@Threads(1)
public class PsrefDestroyBench {
  /** Class name, also the wait channel of the destroyer's {@code cv_timedwait}. */
  static final String CLASS_NAME = "dstry";

  /**
   * A machine of 2 CPUs, the destroyer LWP on cpu0; the benchmark thread is an LWP bound to
   * cpu1. (Two state classes share it because JMH 1.37 makes a second instance of a
   * thread-scoped state that is both a benchmark argument and a setup dependency.)
   */
  @State(Scope.Thread)
  public abstract static class MachineBase {
    /** {@code lowpri}: 2016 drain (low-priority xcall); {@code highpri}: NetBSD 8's. */
    @Param({"lowpri", "highpri"})
    public String drain;

    Machine machine;
    Machine.Entry entry;
    PsrefClass cls;
    final PsrefTarget target = new PsrefTarget("bench");
    final Psref psref = new Psref();

    // the destroyer LWP's request/response, for psrefLastReleaseToDestroy
    final KMutex reqLock = new KMutex("destroy_req");
    final KCondvar reqCv = KCondvar.forIdleWait("destroy_req");
    boolean requested;
    volatile boolean destroyed;
    Lwp destroyer;

    @Setup(Level.Trial)
    public void boot() {
      MachineConfig c = BenchSupport.config(2)
          .withOption(PsrefOptions.OPTION_HIGHPRI_DRAIN, "highpri".equals(drain));
      machine = BenchSupport.boot(c);
      machine.run("setup", () -> cls = Psrefs.classCreate(CLASS_NAME, Ipl.IPL_SOFTNET));
      destroyer = machine.kthreadCreate(Pri.PRI_KTHREAD, 0, machine.cpu(0), this::destroyLoop,
          "destroyer/0");
      entry = machine.enter("bench/1", machine.cpu(1));
    }

    @TearDown(Level.Trial)
    public void shutdown() {
      if (entry != null) {
        entry.exit();
      }
      BenchSupport.shutdown(machine);
    }

    /** The destroyer: on request, destroys {@link #target} and says so. */
    private void destroyLoop() {
      for (;;) {
        reqLock.enter();
        while (!requested) {
          reqCv.await(reqLock);
        }
        requested = false;
        reqLock.exit();
        Psrefs.targetDestroy(target, cls);
        destroyed = true;
      }
    }

    /** Hands the destroyer its request (the benchmark thread, holding {@link #psref}). */
    void requestDestroy() {
      destroyed = false;
      reqLock.enter();
      requested = true;
      reqCv.signal();
      reqLock.exit();
    }

    /**
     * Waits until the destroyer sleeps in {@code psref_target_destroy}'s timed wait, i.e. it
     * has run a round that found our reference. Preemption points let xcall/1 run here.
     */
    void awaitDestroyerWaiting() {
      while (!(destroyer.state() == Lwp.State.SLEEP && CLASS_NAME.equals(destroyer.wchan()))) {
        Kern.preempt();
        Thread.onSpinWait();
        machine.checkRunning();
      }
    }

    /** Spins (with preemption points, so the xcall can run on this CPU) until destroyed. */
    void awaitDestroyed() {
      while (!destroyed) {
        Kern.preempt();
        Thread.onSpinWait();
      }
    }
  }

  /** The machine for {@link #psrefDestroyNoHolders}. */
  @State(Scope.Thread)
  public static class OnMachine extends MachineBase {}

  /**
   * The machine for {@link #psrefLastReleaseToDestroy}, prepared per invocation (not timed): a
   * fresh target, our reference on it, the destroyer waiting in its drain loop.
   */
  @State(Scope.Thread)
  public static class Holding extends MachineBase {
    @Setup(Level.Invocation)
    public void holdAndStartDestroy() {
      Psrefs.targetInit(target, cls);
      Psrefs.acquire(psref, target, cls);
      requestDestroy();
      awaitDestroyerWaiting();
    }
  }

  @Benchmark
  public void psrefDestroyNoHolders(OnMachine s) {
    Psrefs.targetInit(s.target, s.cls);
    Psrefs.targetDestroy(s.target, s.cls);
  }

  @Benchmark
  public void psrefLastReleaseToDestroy(Holding s) {
    Psrefs.release(s.psref, s.target, s.cls);
    s.awaitDestroyed();
  }
}
