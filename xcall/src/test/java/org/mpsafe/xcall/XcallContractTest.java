package org.mpsafe.xcall;

import org.mpsafe.kern.KGate;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Pri;

/**
 * The contract of {@code xc_broadcast} / {@code xc_unicast} / {@code xc_wait} /
 * {@code xc_barrier} that holds under both low-priority accountings (JCTools style: one abstract
 * spec, a thin subclass per {@link XcallAccounting}). What differs between the modes — whether
 * a job is admitted while a callback of the previous one still runs, and so whether
 * {@code xc_wait} covers its own job when several requesters overlap (PR kern/51632) — is
 * asserted in the subclasses, through {@link #checkWaitReturns} and their own tests.
 *
 * <p>Every callback that blocks blocks in kernel primitives ({@link KGate}: a KMutex and a
 * KCondvar), so its CPU is released as in NetBSD. Waiting in the test thread is Awaitility on
 * LWP states and published flags; nothing sleeps for time, nothing asserts time.
 */
abstract class XcallContractTest {
  /** Generous: a loaded 2-core CI box must never hit it; a hang fails instead of hanging. */
  static final Duration LIMIT = Duration.ofSeconds(60);

  /** The accounting this subclass boots with. */
  abstract XcallAccounting mode();

  /**
   * Mode-specific claims about the stress run of {@link #manyRequestersLoseNoCallback}:
   * {@code incompleteAtReturn} lists the jobs whose {@code xc_wait} returned before all their
   * callbacks had run.
   */
  abstract void checkWaitReturns(Xcall xc, List<String> incompleteAtReturn);

  Machine boot(int ncpu) {
    return boot(ncpu, false);
  }

  /** Whether xc_wait spins before sleeping ({@link Xcall#OPTION_WAIT_SPIN}); on by default. */
  boolean waitSpin() {
    return true;
  }

  Machine boot(int ncpu, boolean detector) {
    MachineConfig c = MachineConfig.of(ncpu).withOption(Xcall.OPTION_ACCOUNTING, mode())
        .withOption(Xcall.OPTION_WAIT_SPIN, waitSpin());
    if (detector) {
      c = c.withOption(Xcall.OPTION_DETECTOR, true);
    }
    return Machine.boot(c);
  }

  static ConditionFactory awaitK() {
    return await().atMost(LIMIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
  }

  /** No panic, no hang, and shutdown joins every LWP. */
  static void assertCleanShutdown(Machine m) {
    assertTrue(m.panic().isEmpty(), () -> "panicked: " + m.panic().get());
    assertTrue(m.hang().isEmpty(), () -> "hung: " + m.hang().get());
    assertEquals(List.of(), m.shutdown(), "threads left after shutdown");
  }

  static boolean sleepingOn(Lwp l, String wchan) {
    return l != null && l.state() == Lwp.State.SLEEP && wchan.equals(l.wchan());
  }

  /** Opens {@code g} from an LWP of {@code m} (KGate's lock is a kernel mutex). */
  static void open(Machine m, KGate g) {
    m.run("opener", g::open);
  }

  private static final XcFunc NOP = (a1, a2) -> { };

  // ---- where and how callbacks run ------------------------------------------------------------

  @Test
  void oneBoundXcallThreadPerCpuAtPriXcall() {
    try (Machine m = boot(3)) {
      Xcall.of(m);
      for (int i = 0; i < 3; i++) {
        String name = "xcall/" + i;
        Lwp l = m.lwps().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
        assertTrue(l.isBound(), name);
        assertEquals(Pri.PRI_XCALL, l.priority(), name);
        assertEquals(m.cpu(i), l.cpu(), name);
      }
      assertEquals(3, m.lwps().stream().filter(x -> x.name().startsWith("xcall/")).count());
      assertCleanShutdown(m);
    }
  }

  @ParameterizedTest(name = "{0} CPU(s)")
  @ValueSource(ints = {1, 2, 4})
  void broadcastRunsExactlyOnceOnEachCpuInItsXcallThread(int ncpu) {
    try (Machine m = boot(ncpu)) {
      Object a1 = new Object();
      Object a2 = new Object();
      AtomicIntegerArray calls = new AtomicIntegerArray(ncpu);
      List<String> wrong = new CopyOnWriteArrayList<>();
      XcFunc record = (x, y) -> {
        int i = Kern.curcpuIndex();
        calls.incrementAndGet(i);
        Lwp l = Kern.curlwp();
        if (x != a1 || y != a2) {
          wrong.add("cpu" + i + ": wrong arguments");
        }
        if (!l.name().equals("xcall/" + i) || !l.isBound() || Kern.cpuSoftintrP()) {
          wrong.add("cpu" + i + ": ran in " + l.name() + " bound=" + l.isBound()
              + " softint=" + Kern.cpuSoftintrP());
        }
      };
      int rounds = 20;
      m.run("requester", () -> {
        for (int r = 1; r <= rounds; r++) {
          Xcall.waitFor(Xcall.broadcast(0, record, a1, a2));
          for (int i = 0; i < ncpu; i++) {
            assertEquals(r, calls.get(i), "round " + r + " cpu" + i);
          }
        }
      });
      assertEquals(List.of(), wrong);
      assertCleanShutdown(m);
    }
  }

  @Test
  void broadcastSkipsCpuWithoutSpcfRunningAndTicketsCountOnlyRunningCpus() {
    try (Machine m = boot(4)) {
      AtomicIntegerArray low = new AtomicIntegerArray(4);
      AtomicIntegerArray high = new AtomicIntegerArray(4);
      XcFunc countLow = (x, y) -> low.incrementAndGet(Kern.curcpuIndex());
      XcFunc countHigh = (x, y) -> high.incrementAndGet(Kern.curcpuIndex());
      m.cpu(2).setSpcFlags(0);
      long[] t = m.call("requester", () -> {
        long t1 = Xcall.broadcast(0, countLow, null, null);
        Xcall.waitFor(t1);
        long t2 = Xcall.broadcast(0, countLow, null, null);
        Xcall.waitFor(t2);
        // xc_unicast does not look at SPCF_RUNNING.
        long t3 = Xcall.unicast(0, countLow, null, null, m.cpu(2));
        Xcall.waitFor(t3);
        // xc_highpri counts ncpu and interrupts every CPU.
        long t4 = Xcall.broadcast(Xcall.XC_HIGHPRI, countHigh, null, null);
        Xcall.waitFor(t4);
        return new long[] {t1, t2, t3, t4};
      });
      assertEquals(3, t[0], "xc_headp counts the 3 running CPUs");
      assertEquals(6, t[1]);
      assertEquals(7, t[2]);
      assertEquals(4, t[3] & ~Xcall.XC_PRI_BIT);
      assertEquals(2, low.get(0));
      assertEquals(2, low.get(1));
      assertEquals(1, low.get(2), "cpu2 skipped by both broadcasts, reached by the unicast");
      assertEquals(2, low.get(3));
      for (int i = 0; i < 4; i++) {
        assertEquals(1, high.get(i), "high-priority broadcast on cpu" + i);
      }
      m.cpu(2).setSpcFlags(Cpu.SPCF_RUNNING);
      long t5 = m.call("requester", () -> {
        long w = Xcall.broadcast(0, countLow, null, null);
        Xcall.waitFor(w);
        return w;
      });
      assertEquals(11, t5);
      assertEquals(2, low.get(2));
      assertEquals(Xcall.of(m).lowpriHeadp(), Xcall.of(m).lowpriDonep());
      assertCleanShutdown(m);
    }
  }

  @Test
  void unicastRunsOnlyOnTheTargetInItsBoundXcallThread() {
    int ncpu = 4;
    try (Machine m = boot(ncpu)) {
      List<String> ran = new CopyOnWriteArrayList<>();
      XcFunc record = (x, y) -> {
        Lwp l = Kern.curlwp();
        ran.add(Kern.curcpuIndex() + " " + l.name() + " bound=" + l.isBound()
            + " softint=" + Kern.cpuSoftintrP());
      };
      m.run("requester", () -> {
        for (int r = 0; r < 5; r++) {
          for (int target = 0; target < ncpu; target++) {
            ran.clear();
            Xcall.waitFor(Xcall.unicast(0, record, null, null, m.cpu(target)));
            assertEquals(
                List.of(target + " xcall/" + target + " bound=true softint=false"), ran);
          }
        }
      });
      assertCleanShutdown(m);
    }
  }

  // ---- tickets ----------------------------------------------------------------------------

  @Test
  void lowPriorityTicketsIncreaseStrictlyByTheNumberOfTargets() {
    int ncpu = 3;
    try (Machine m = boot(ncpu)) {
      List<Long> tickets = m.call("requester", () -> {
        Random rnd = new Random(51632);
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
          long w = rnd.nextBoolean()
              ? Xcall.broadcast(0, NOP, null, null)
              : Xcall.unicast(0, NOP, null, null, m.cpu(rnd.nextInt(ncpu)));
          out.add(w);
          if (rnd.nextBoolean()) {
            Xcall.waitFor(w);
          }
        }
        Xcall.waitFor(out.get(out.size() - 1));
        return out;
      });
      long prev = 0;
      for (long w : tickets) {
        assertEquals(0, w & Xcall.XC_PRI_BIT, "low-priority ticket with XC_PRI_BIT: " + w);
        assertTrue(w > prev, "tickets " + prev + " then " + w);
        assertTrue(w - prev == 1 || w - prev == ncpu, "step " + (w - prev));
        prev = w;
      }
      assertEquals(prev, Xcall.of(m).lowpriHeadp());
      assertEquals(prev, Xcall.of(m).lowpriDonep());
      assertCleanShutdown(m);
    }
  }

  @Test
  void highPriorityTicketsCarryXcPriBitAndIncreaseWithoutIt() {
    int ncpu = 3;
    try (Machine m = boot(ncpu)) {
      int[] flags = {
        Xcall.XC_HIGHPRI, Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTNET),
        Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTBIO), Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTCLOCK)
      };
      long[][] t = m.call("requester", () -> {
        long[] hi = new long[24];
        long[] lo = new long[24];
        for (int i = 0; i < hi.length; i++) {
          int f = flags[i % flags.length];
          hi[i] = i % 3 == 0
              ? Xcall.unicast(f, NOP, null, null, m.cpu(i % ncpu))
              : Xcall.broadcast(f, NOP, null, null);
          Xcall.waitFor(hi[i]);
          // Low-priority tickets are a separate counter.
          lo[i] = Xcall.broadcast(0, NOP, null, null);
          Xcall.waitFor(lo[i]);
        }
        return new long[][] {hi, lo};
      });
      long prev = 0;
      for (int i = 0; i < t[0].length; i++) {
        long w = t[0][i];
        assertNotEquals(0, w & Xcall.XC_PRI_BIT, "high-priority ticket without XC_PRI_BIT");
        long n = w & ~Xcall.XC_PRI_BIT;
        assertEquals(prev + (i % 3 == 0 ? 1 : ncpu), n, "ticket " + i);
        prev = n;
        assertEquals((long) ncpu * (i + 1), t[1][i], "low-priority ticket " + i);
      }
      assertCleanShutdown(m);
    }
  }

  // ---- xc_wait -----------------------------------------------------------------------------

  /**
   * With a single requester jobs cannot overlap in either mode (the next job is only posted
   * after this one's xc_wait), so xc_donep reaching the ticket means every callback of the job
   * returned. One CPU's callback per round is slow (yields its CPU, takes a contended mutex).
   */
  @Test
  void xcWaitReturnsOnlyAfterTheJobsCallbacksFinishedWithOneRequester() {
    int ncpu = 3;
    try (Machine m = boot(ncpu)) {
      KMutex mtx = new KMutex("slow");
      List<String> early = new CopyOnWriteArrayList<>();
      m.run("requester", () -> {
        for (int r = 0; r < 400; r++) {
          int slow = r % ncpu;
          AtomicInteger done = new AtomicInteger();
          XcFunc cb = (x, y) -> {
            if (Kern.curcpuIndex() == slow) {
              mtx.enter();
              Kern.yield();
              mtx.exit();
              Kern.preempt();
            }
            done.incrementAndGet();
          };
          int kind = (r / ncpu) % 4;
          long w;
          int expected;
          switch (kind) {
            case 0 -> {
              w = Xcall.broadcast(0, cb, null, null);
              expected = ncpu;
            }
            case 1 -> {
              w = Xcall.unicast(0, cb, null, null, m.cpu(slow));
              expected = 1;
            }
            case 2 -> {
              w = Xcall.broadcast(Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTNET), cb, null, null);
              expected = ncpu;
            }
            default -> {
              w = Xcall.unicast(Xcall.XC_HIGHPRI, cb, null, null, m.cpu(slow));
              expected = 1;
            }
          }
          Xcall.waitFor(w);
          if (done.get() != expected) {
            early.add("round " + r + " kind " + kind + ": " + done.get() + "/" + expected);
          }
        }
      });
      assertEquals(List.of(), early);
      assertCleanShutdown(m);
    }
  }

  /**
   * With one requester no job overlaps another in either mode, so the early-return detector
   * must never fire. What keeps it silent is an ordering in xc_thread: the detector's
   * "finished" bit is written before donep++, so a waiter on xc_wait's unlocked fast path that
   * sees the new donep also sees the bit. With the two the other way round, a waiter that read
   * donep between them would report an early return that never happened, and only when the
   * host deschedules the xcall thread between two statements: this loop can catch that
   * ordering only by chance, so the argument for it is the happens-before note in xc_thread.
   */
  @Test
  void earlyReturnDetectorStaysSilentWithOneRequester() {
    try (Machine m = boot(2, true)) {
      Xcall xc = Xcall.of(m);
      m.run("requester", () -> {
        for (int r = 0; r < 10_000; r++) {
          Xcall.waitFor(Xcall.unicast(0, NOP, null, null, m.cpu(1)));
        }
      });
      assertEquals(0, xc.earlyReturns(), () -> xc.earlyReturnEvents().toString());
      assertCleanShutdown(m);
    }
  }

  // ---- high priority: softint at the requested IPL -------------------------------------------

  static Stream<Arguments> highpriFlags() {
    return Stream.of(
        Arguments.of("XC_HIGHPRI", Xcall.XC_HIGHPRI, Ipl.IPL_SOFTSERIAL, "softser"),
        Arguments.of("XC_HIGHPRI_IPL(IPL_SOFTSERIAL)",
            Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTSERIAL), Ipl.IPL_SOFTSERIAL, "softser"),
        Arguments.of("XC_HIGHPRI_IPL(IPL_SOFTNET)",
            Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTNET), Ipl.IPL_SOFTNET, "softnet"),
        Arguments.of("XC_HIGHPRI_IPL(IPL_SOFTBIO)",
            Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTBIO), Ipl.IPL_SOFTBIO, "softbio"),
        Arguments.of("XC_HIGHPRI_IPL(IPL_SOFTCLOCK)",
            Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTCLOCK), Ipl.IPL_SOFTCLOCK, "softclk"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("highpriFlags")
  void highPriorityCallbacksRunInSoftintAtTheRequestedIpl(
      String label, int flags, int ipl, String softintLwp) {
    int ncpu = 3;
    try (Machine m = boot(ncpu)) {
      AtomicIntegerArray calls = new AtomicIntegerArray(ncpu);
      List<String> ran = new CopyOnWriteArrayList<>();
      XcFunc record = (x, y) -> {
        int i = Kern.curcpuIndex();
        calls.incrementAndGet(i);
        ran.add(i + " " + Kern.curlwp().name() + " softint=" + Kern.cpuSoftintrP() + " "
            + Ipl.name(Kern.curcpu().ipl()));
      };
      m.run("requester", () -> {
        for (int r = 1; r <= 10; r++) {
          Xcall.waitFor(Xcall.broadcast(flags, record, null, null));
          for (int i = 0; i < ncpu; i++) {
            assertEquals(r, calls.get(i), "broadcast round " + r + " cpu" + i);
          }
        }
      });
      for (String s : ran) {
        int i = Integer.parseInt(s.substring(0, s.indexOf(' ')));
        assertEquals(i + " " + softintLwp + "/" + i + " softint=true " + Ipl.name(ipl), s);
      }
      m.run("requester", () -> {
        for (int target = 0; target < ncpu; target++) {
          ran.clear();
          Xcall.waitFor(Xcall.unicast(flags, record, null, null, m.cpu(target)));
          assertEquals(List.of(target + " " + softintLwp + "/" + target + " softint=true "
              + Ipl.name(ipl)), ran);
        }
      });
      assertCleanShutdown(m);
    }
  }

  // ---- xc_barrier --------------------------------------------------------------------------

  /** A unicast held on CPU 1 is ordered before the barrier: the barrier waits for it. */
  @Test
  void lowPriorityBarrierReturnsAfterAPrecedingHeldUnicast() {
    try (Machine m = boot(2)) {
      KGate gate = new KGate();
      AtomicBoolean unicastDone = new AtomicBoolean();
      AtomicBoolean doneAtBarrierReturn = new AtomicBoolean();
      AtomicBoolean returned = new AtomicBoolean();
      Lwp req = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Xcall.unicast(0, (x, y) -> {
          gate.pass();
          unicastDone.set(true);
        }, null, null, m.cpu(1));
        Xcall.barrier(0);
        doneAtBarrierReturn.set(unicastDone.get());
        returned.set(true);
      }, "barrier");
      // FIXED: asleep in xc_lowpri's admission; LEGACY: admitted, asleep in xc_wait. Either
      // way on xc_busy ("xclocv") while the unicast's callback is held.
      awaitK().until(() -> gate.occupied() && sleepingOn(req, "xclocv"));
      assertFalse(returned.get(), "xc_barrier(0) returned while the unicast was held");
      open(m, gate);
      awaitK().untilTrue(returned);
      assertTrue(doneAtBarrierReturn.get());
      assertCleanShutdown(m);
    }
  }

  /** A broadcast that nobody waits for, then a barrier: every CPU has run it. */
  @ParameterizedTest(name = "flags {0}")
  @ValueSource(ints = {0, Xcall.XC_HIGHPRI})
  void barrierReturnsAfterEveryCpuRanAPrecedingBroadcast(int flags) {
    int ncpu = 3;
    try (Machine m = boot(ncpu)) {
      List<String> shortRounds = new CopyOnWriteArrayList<>();
      // The counted broadcast runs at a lower soft level than the barrier's no-op.
      int countFlags = flags == 0 ? 0 : Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTCLOCK);
      m.run("requester", () -> {
        for (int r = 0; r < 150; r++) {
          AtomicInteger n = new AtomicInteger();
          Xcall.broadcast(countFlags, (x, y) -> {
            Kern.preempt();
            n.incrementAndGet();
          }, null, null);
          Xcall.barrier(flags);
          if (n.get() != ncpu) {
            shortRounds.add("round " + r + ": " + n.get() + "/" + ncpu);
          }
        }
      });
      assertEquals(List.of(), shortRounds);
      Xcall xc = Xcall.of(m);
      assertEquals(flags == 0 ? 300 : 0, xc.broadcastCount());
      assertEquals(flags == 0 ? 0 : 300, xc.highpriCount());
      assertCleanShutdown(m);
    }
  }

  // ---- event counters and detector default --------------------------------------------------

  @Test
  void eventCountersCountWhatWasPosted() {
    int ncpu = 2;
    try (Machine m = boot(ncpu)) {
      Xcall xc = Xcall.of(m);
      assertEquals(0, xc.broadcastCount());
      assertEquals(0, xc.unicastCount());
      assertEquals(0, xc.highpriCount());
      m.run("requester", () -> {
        for (int i = 0; i < 3; i++) {
          Xcall.waitFor(Xcall.broadcast(0, NOP, null, null));
        }
        for (int i = 0; i < 5; i++) {
          Xcall.waitFor(Xcall.unicast(0, NOP, null, null, m.cpu(i % ncpu)));
        }
        for (int i = 0; i < 2; i++) {
          Xcall.waitFor(Xcall.broadcast(Xcall.XC_HIGHPRI, NOP, null, null));
          Xcall.waitFor(Xcall.unicast(Xcall.XC_HIGHPRI_IPL(Ipl.IPL_SOFTNET), NOP, null, null,
              m.cpu(i % ncpu)));
        }
        Xcall.barrier(0);
        Xcall.barrier(Xcall.XC_HIGHPRI);
      });
      assertEquals(4, xc.broadcastCount(), "crosscall broadcast");
      assertEquals(5, xc.unicastCount(), "crosscall unicast");
      assertEquals(9, xc.lowpriCount());
      assertEquals(5, xc.highpriCount(), "crosscall highpri");
      assertEquals(0, xc.earlyReturns(), "detector off by default");
      assertFalse(xc.detectorEnabled());
      assertCleanShutdown(m);
    }
  }

  // ---- many requesters ---------------------------------------------------------------------

  /** What the stress callbacks share with the test (arg2 of every call). */
  static final class Stress {
    final List<String> wrong = new CopyOnWriteArrayList<>();
    final KMutex mtx = new KMutex("stress");
  }

  /** One posted job of the stress run and what its callbacks saw. */
  static final class Job {
    final int id;
    final int flags;
    /** IPL_NONE for low priority, else the soft IPL the callback must run at. */
    final int ipl;
    /** Target CPU for a unicast, -1 for a broadcast. */
    final int target;
    final int expected;
    final AtomicInteger calls = new AtomicInteger();
    volatile int atReturn = -1;

    Job(int id, int flags, int ipl, int target, int ncpu) {
      this.id = id;
      this.flags = flags;
      this.ipl = ipl;
      this.target = target;
      this.expected = target < 0 ? ncpu : 1;
    }

    boolean high() {
      return (flags & Xcall.XC_HIGHPRI) != 0;
    }

    long post(Machine m, Stress s) {
      XcFunc f = high() ? HIGH_CB : LOW_CB;
      return target < 0 ? Xcall.broadcast(flags, f, this, s)
          : Xcall.unicast(flags, f, this, s, m.cpu(target));
    }

    @Override
    public String toString() {
      return "job " + id + (high() ? " high" : " low") + (target < 0 ? " broadcast" : " to cpu"
          + target) + ": " + calls.get() + "/" + expected + " (at xc_wait return " + atReturn
          + ")";
    }
  }

  static final XcFunc LOW_CB = (a1, a2) -> {
    Job j = (Job) a1;
    Stress s = (Stress) a2;
    int i = Kern.curcpuIndex();
    if (j.target >= 0 && j.target != i) {
      s.wrong.add(j + " ran on cpu" + i);
    }
    if (Kern.cpuSoftintrP() || !Kern.curlwp().name().equals("xcall/" + i)) {
      s.wrong.add(j + " ran in " + Kern.curlwp().name());
    }
    if (j.id % 5 == 0) {
      // Block briefly, in kernel primitives, and give the CPU away: widens every window.
      s.mtx.enter();
      Kern.yield();
      s.mtx.exit();
    }
    j.calls.incrementAndGet();
  };

  static final XcFunc HIGH_CB = (a1, a2) -> {
    Job j = (Job) a1;
    Stress s = (Stress) a2;
    int i = Kern.curcpuIndex();
    if (j.target >= 0 && j.target != i) {
      s.wrong.add(j + " ran on cpu" + i);
    }
    if (!Kern.cpuSoftintrP() || Kern.curcpu().ipl() != j.ipl) {
      s.wrong.add(j + " ran at " + Ipl.name(Kern.curcpu().ipl()) + " softint="
          + Kern.cpuSoftintrP());
    }
    j.calls.incrementAndGet();
  };

  /**
   * 6 LWPs × 200 jobs, mixed low/high priority, broadcast/unicast, random IPLs and targets:
   * every callback runs exactly as often as posted, where posted, and nothing hangs. Seeded:
   * the seed is printed and {@code -Dxcall.seed=N} replays the same job lists.
   */
  @ParameterizedTest(name = "{0} CPUs")
  @ValueSource(ints = {2, 4})
  void manyRequestersLoseNoCallback(int ncpu) {
    long seed = Long.getLong("xcall.seed", System.nanoTime());
    System.out.println(getClass().getSimpleName() + ".manyRequestersLoseNoCallback(" + ncpu
        + "): seed " + seed + " (replay with -Dxcall.seed=" + seed + ")");
    int lwps = 6;
    int perLwp = 200;
    int[] highIpls = {
      Ipl.IPL_SOFTSERIAL, Ipl.IPL_SOFTNET, Ipl.IPL_SOFTBIO, Ipl.IPL_SOFTCLOCK
    };
    Random rnd = new Random(seed);
    Job[][] jobs = new Job[lwps][perLwp];
    long lowB = 0;
    long lowU = 0;
    long high = 0;
    for (int r = 0; r < lwps; r++) {
      for (int k = 0; k < perLwp; k++) {
        boolean hi = rnd.nextInt(3) == 0;
        int ipl = hi ? highIpls[rnd.nextInt(highIpls.length)] : Ipl.IPL_NONE;
        int flags = 0;
        if (hi) {
          flags = ipl == Ipl.IPL_SOFTSERIAL && rnd.nextBoolean()
              ? Xcall.XC_HIGHPRI : Xcall.XC_HIGHPRI_IPL(ipl);
        }
        int target = rnd.nextBoolean() ? -1 : rnd.nextInt(ncpu);
        jobs[r][k] = new Job(r * perLwp + k, flags, ipl, target, ncpu);
        if (hi) {
          high++;
        } else if (target < 0) {
          lowB++;
        } else {
          lowU++;
        }
      }
    }
    Stress stress = new Stress();
    try (Machine m = boot(ncpu, true)) {
      Xcall xc = Xcall.of(m);
      AtomicInteger finished = new AtomicInteger();
      AtomicLong lastTicket = new AtomicLong();
      for (int r = 0; r < lwps; r++) {
        Job[] mine = jobs[r];
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
          long prevLow = 0;
          long prevHigh = 0;
          for (Job j : mine) {
            long w = j.post(m, stress);
            // Per requester too, tickets of each priority strictly increase.
            if (j.high()) {
              assertTrue((w & ~Xcall.XC_PRI_BIT) > prevHigh);
              prevHigh = w & ~Xcall.XC_PRI_BIT;
            } else {
              assertTrue(w > prevLow);
              prevLow = w;
            }
            Xcall.waitFor(w);
            j.atReturn = j.calls.get();
          }
          lastTicket.accumulateAndGet(prevLow, Math::max);
          finished.incrementAndGet();
        }, "requester/" + r);
      }
      awaitK().until(() -> finished.get() == lwps || !m.running());
      assertTrue(m.panic().isEmpty(), () -> "panicked: " + m.panic().get());
      // Under LEGACY_TAILP an xc_wait may have returned early: let the last callbacks finish.
      awaitK().until(() -> xc.lowpriDonep() == xc.lowpriHeadp());
      assertEquals(List.of(), stress.wrong);
      List<String> lost = new ArrayList<>();
      List<String> incompleteAtReturn = new ArrayList<>();
      for (Job[] mine : jobs) {
        for (Job j : mine) {
          if (j.calls.get() != j.expected) {
            lost.add(j.toString());
          }
          if (j.atReturn != j.expected) {
            incompleteAtReturn.add(j.toString());
          }
        }
      }
      assertEquals(List.of(), lost, "seed " + seed);
      assertEquals(lowB, xc.broadcastCount());
      assertEquals(lowU, xc.unicastCount());
      assertEquals(high, xc.highpriCount());
      assertEquals(xc.lowpriHeadp(), lastTicket.get());
      checkWaitReturns(xc, incompleteAtReturn);
      assertCleanShutdown(m);
    }
  }

  // ---- the one difference between the modes, as a deterministic scenario -------------------

  /**
   * Job A: a unicast to CPU 1 whose callback is held at {@link #gate}. Job B: a unicast to
   * CPU 0 posted after A's callback started. The subclasses assert whether B is admitted (and
   * runs) while A's callback is still held.
   */
  final class HeldJobScenario implements AutoCloseable {
    final Machine m = boot(2, true);
    final Xcall xc = Xcall.of(m);
    final KGate gate = new KGate();
    final AtomicBoolean bRan = new AtomicBoolean();
    final AtomicBoolean bReturned = new AtomicBoolean();
    final AtomicBoolean aReturned = new AtomicBoolean();
    final AtomicBoolean aDoneAtReturn = new AtomicBoolean();
    final AtomicBoolean aDone = new AtomicBoolean();
    Lwp a;
    Lwp b;

    HeldJobScenario start() {
      a = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        long w = Xcall.unicast(0, (x, y) -> {
          gate.pass();
          aDone.set(true);
        }, null, null, m.cpu(1));
        Xcall.waitFor(w);
        aDoneAtReturn.set(aDone.get());
        aReturned.set(true);
      }, "requester-A");
      awaitK().until(() -> gate.occupied());
      b = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Xcall.waitFor(Xcall.unicast(0, (x, y) -> bRan.set(true), null, null, m.cpu(0)));
        bReturned.set(true);
      }, "requester-B");
      return this;
    }

    /** Opens the gate; both requesters return, A's callback has run, the machine is clean. */
    void openAndFinish() {
      open(m, gate);
      awaitK().until(() -> aReturned.get() && bReturned.get() && aDone.get());
      assertTrue(bRan.get());
      assertEquals(xc.lowpriHeadp(), xc.lowpriDonep());
      assertCleanShutdown(m);
    }

    @Override
    public void close() {
      m.close();
    }
  }
}
