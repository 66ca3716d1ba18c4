package org.mpsafe.psref;

import java.util.stream.Collectors;
import org.mpsafe.kern.KGate;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.awaitility.core.ConditionTimeoutException;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Pri;

/**
 * Shared pieces of the psref tests: booting, the NetBSD assertion text, holders that keep a
 * reference on a CPU until told, and waiting (Awaitility, never sleeps).
 */
final class Fixtures {
  private Fixtures() {}

  /** Generous: the box may be loaded; nothing here is a timing assertion. */
  static final Duration LIMIT = Duration.ofSeconds(30);
  static final String SUBR_PSREF_C = "sys/kern/subr_psref.c";
  static final String CPU_LOCAL = "passive references are CPU-local, but preemption is enabled "
      + "and the caller is not in a softint or CPU-bound LWP";
  static final String CPU_LOCAL_EXPR =
      "(kpreempt_disabled() || cpu_softintr_p() || ISSET(curlwp->l_pflag, LP_BOUND))";
  static final String CLASS_EXPR = "(target->prt_class == class)";

  /** Awaitility with a short poll interval and the generous limit. */
  static ConditionFactory await() {
    return Awaitility.await().atMost(LIMIT).pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(5));
  }

  /**
   * Awaits {@code cond}; on timeout fails with what the machine was doing (outcome, panic,
   * watchdog report and every LWP's state), which a bare Awaitility timeout would not say.
   */
  static void until(Machine m, Callable<Boolean> cond) {
    if (m.deterministic()) {
      // The machine runs only while this thread lets it; the bound is virtual time.
      boolean held = m.advanceUntil(() -> call(cond), Duration.ofSeconds(600));
      if (!held) {
        throw new AssertionError("condition not reached in 600 s of virtual time; machine "
            + m.outcome() + m.panic().map(pc -> "\n  " + pc.headline()).orElse("")
            + m.hang().map(h -> "\n  hang: " + h.headline()).orElse("")
            + "\n  " + String.join("\n  ", m.ps()));
      }
      return;
    }
    try {
      await().until(cond);
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n  machine " + m.outcome()
          + m.panic().map(pc -> "\n  " + pc.headline() + " (" + pc.lwp() + ")\n    at "
              + pc.javaStack().stream().skip(2).limit(12).map(Object::toString)
                  .collect(Collectors.joining("\n    at "))).orElse("")
          + m.hang().map(h -> "\n  hang: " + h).orElse("")
          + "\n  " + String.join("\n  ", m.ps()), e);
    }
  }

  /** A machine of {@code ncpu} CPUs with options {@code key, value, key, value, ...}. */
  private static boolean call(Callable<Boolean> c) {
    try {
      return c.call();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Machine boot(int ncpu, Object... options) {
    MachineConfig c = MachineConfig.of(ncpu);
    for (int i = 0; i < options.length; i += 2) {
      if (options[i + 1] != null) {
        c = c.withOption((String) options[i], options[i + 1]);
      }
    }
    return Machine.boot(c);
  }

  /** {@code __KASSERTSTR} + message, for an assertion in subr_psref.c. */
  static String kassert(String expr, int line, String msg) {
    return kassert(expr, SUBR_PSREF_C, line, msg);
  }

  static String kassert(String expr, String file, int line, String msg) {
    return "kernel diagnostic assertion \"" + expr + "\" failed: file \"" + file + "\", line "
        + line + " " + msg;
  }

  /** {@code %p}. */
  static String p(Object o) {
    return Kaddr.format(o);
  }

  /** Waits for the machine to stop and returns its panic (fails if it stopped otherwise). */
  static Panic awaitPanic(Machine m) throws InterruptedException {
    assertTrue(m.awaitStop(LIMIT), "machine did not stop");
    return m.panic().orElseThrow(() -> new AssertionError("stopped without panic: "
        + m.outcome() + " " + m.hang().map(Object::toString).orElse("")));
  }

  /** A class at IPL_SOFTNET, as the network stack's are. */
  static PsrefClass newClass(Machine m, String name) {
    return m.call("mkclass", () -> Psrefs.classCreate(name, Ipl.IPL_SOFTNET));
  }

  /** A target initialised in {@code cls}. */
  static PsrefTarget newTarget(Machine m, PsrefClass cls, String name) {
    PsrefTarget t = new PsrefTarget(name);
    m.run("init " + name, () -> Psrefs.targetInit(t, cls));
    return t;
  }

  /**
   * Runs {@code body} in a kthread bound to {@code cpu} and returns its value; fails with the
   * panic if the machine panics instead.
   */
  static <T> T callBound(Machine m, Cpu cpu, Supplier<T> body) {
    AtomicReference<T> out = new AtomicReference<>();
    AtomicBoolean done = new AtomicBoolean();
    m.kthreadCreate(Pri.PRI_KTHREAD, 0, cpu, () -> {
      out.set(body.get());
      done.set(true);
    }, "bound/" + cpu.index());
    until(m, () -> done.get() || !m.running());
    if (!done.get()) {
      throw new AssertionError("machine stopped: "
          + m.panic().map(Panic::message).orElse(m.outcome().toString()));
    }
    return out.get();
  }

  /**
   * Kernel-side busy wait for code that must not sleep (a softint, a kpreempt_disable or
   * pserialize section): a preemption point each turn, so a stopping machine unwinds it.
   */
  static void spinUntil(AtomicBoolean flag) {
    while (!flag.get()) {
      Kern.preempt();
      Thread.onSpinWait();
    }
  }

  /**
   * A kthread bound to one CPU that acquires a reference to a target and sleeps holding it
   * (in a {@link KGate}, CPU given up) until {@link #letGo}.
   */
  static final class Holder {
    final KGate gate = new KGate();
    final AtomicBoolean holds = new AtomicBoolean();
    final AtomicBoolean released = new AtomicBoolean();
    final Psref ref = new Psref();
    final Lwp lwp;

    private Holder(Machine m, Cpu cpu, PsrefTarget t, PsrefClass cls, boolean viaCopy) {
      lwp = m.kthreadCreate(Pri.PRI_KTHREAD, 0, cpu, () -> {
        if (viaCopy) {
          Psref first = new Psref();
          Psrefs.acquire(first, t, cls);
          Psrefs.copy(ref, first, cls);
          Psrefs.release(first, t, cls);
        } else {
          Psrefs.acquire(ref, t, cls);
        }
        holds.set(true);
        gate.pass();
        holds.set(false);
        Psrefs.release(ref, t, cls);
        released.set(true);
      }, "holder/" + cpu.index());
    }

    /** Starts one on {@code cpu} and waits until it holds the reference and sleeps. */
    static Holder start(Machine m, Cpu cpu, PsrefTarget t, PsrefClass cls) {
      return started(new Holder(m, cpu, t, cls, false));
    }

    /** Same, but the reference it keeps is a {@code psref_copy} of one it released. */
    static Holder startWithCopy(Machine m, Cpu cpu, PsrefTarget t, PsrefClass cls) {
      return started(new Holder(m, cpu, t, cls, true));
    }

    private static Holder started(Holder h) {
      until(h.lwp.machine(), () -> h.holds.get() && h.gate.occupied()
          && h.lwp.state() == Lwp.State.SLEEP);
      return h;
    }

    /** Wakes it: it releases the reference and exits. */
    void letGo(Machine m) {
      m.run("open-gate", gate::open);
    }
  }
}
