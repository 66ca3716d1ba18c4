package org.mpsafe.kern;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A fixed-size per-CPU event ring, for the "last events" of a panic report.
 *
 * <p>Kinds are small ints registered once by name ({@link #kind}); each event is four longs
 * (time, kind and LWP, two arguments) written by the CPU's owner into its own ring: no
 * allocation, no atomic read-modify-write. A snapshot may be taken while the CPUs run (a panic
 * report takes one at the panic, before the other CPUs stop): it holds only events that were
 * written completely and not overwritten while it was copied ({@link Ring}).
 */
public final class Trace {
  private Trace() {}

  private static final List<String> KINDS = new CopyOnWriteArrayList<>();

  /** Registers (or finds) an event kind by name. */
  public static synchronized int kind(String name) {
    int i = KINDS.indexOf(name);
    if (i >= 0) {
      return i;
    }
    KINDS.add(name);
    return KINDS.size() - 1;
  }

  public static String kindName(int kind) {
    return kind >= 0 && kind < KINDS.size() ? KINDS.get(kind) : "kind" + kind;
  }

  public static final int SOFTINT = kind("softint");
  /**
   * A CPU changes hands: argument a is the new owner's LWP id, 0 when the CPU goes idle.
   * Recorded by the scheduler under its lock, while nobody runs on the CPU, so the ring keeps
   * its one writer at a time.
   */
  public static final int SWITCH = kind("sched_switch");
  public static final int PANIC = kind("panic");

  /** Records an event on the current CPU. */
  public static void record(int kind, long a, long b) {
    Lwp l = Lwp.current();
    l.cpu.trace.add(kind, l.id(), a, b);
  }

  /**
   * One trace event.
   *
   * @param cpu the CPU it happened on
   * @param nanos nanoseconds since boot
   * @param kind the kind's name
   * @param lwp the LWP's id
   * @param a first argument
   * @param b second argument
   */
  public record Event(int cpu, long nanos, String kind, int lwp, long a, long b) {}

  /**
   * The ring of one CPU. Its owner writes; a snapshot may be taken from any thread while the
   * owner goes on writing (a panic report is taken at the panic, before the other CPUs have
   * stopped). Writing and reading follow a seqlock: the writer claims slot {@code p} (claim =
   * p + 1, then a StoreStore fence), writes its four longs, then publishes it (done = p + 1, a
   * release store). A reader reads done (acquire), copies the slots below it, fences (LoadLoad)
   * and reads claim: a slot {@code q} it copied can have been overwritten, torn or whole, only
   * by a claim of {@code q + size} or later, so it keeps the slots in
   * {@code [claim - size, done)}, each one written completely before the snapshot began and not
   * touched while it was copied.
   */
  static final class Ring {
    private static final VarHandle CLAIM;
    private static final VarHandle DONE;

    static {
      try {
        MethodHandles.Lookup lk = MethodHandles.lookup();
        CLAIM = lk.findVarHandle(Ring.class, "claim", long.class);
        DONE = lk.findVarHandle(Ring.class, "done", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final int cpu;
    private final long[] buf;
    private final int size;
    /** Slots claimed by the writer; written only by the CPU's owner. */
    private long claim;
    /** Slots written completely; written only by the CPU's owner, with release. */
    private long done;
    private long boot;
    private DetScheduler det;

    Ring(int cpu, int size) {
      this.cpu = cpu;
      this.size = size;
      this.buf = new long[Math.max(size, 1) * 4];
    }

    /** Timestamps are {@code System.nanoTime() - bootNanos}, or virtual time with {@code det}. */
    void start(long bootNanos, DetScheduler det) {
      this.boot = bootNanos;
      this.det = det;
    }

    void add(int kind, int lwp, long a, long b) {
      if (size == 0) {
        return;
      }
      long p = claim;
      CLAIM.setOpaque(this, p + 1);
      VarHandle.storeStoreFence();
      int i = (int) (p % size) * 4;
      buf[i] = det != null ? det.now() : System.nanoTime() - boot;
      buf[i + 1] = ((long) kind << 32) | (lwp & 0xffff_ffffL);
      buf[i + 2] = a;
      buf[i + 3] = b;
      DONE.setRelease(this, p + 1);
    }

    /** The events written completely and still in the ring, oldest first; see the class notes. */
    List<Event> snapshot() {
      if (size == 0) {
        return List.of();
      }
      long end = (long) DONE.getAcquire(this);
      long start = Math.max(0, end - size);
      long[] copy = new long[(int) (end - start) * 4];
      for (long p = start; p < end; p++) {
        System.arraycopy(buf, (int) (p % size) * 4, copy, (int) (p - start) * 4, 4);
      }
      VarHandle.acquireFence();
      long claimed = (long) CLAIM.getOpaque(this);
      List<Event> out = new ArrayList<>();
      for (long p = Math.max(start, claimed - size); p < end; p++) {
        int i = (int) (p - start) * 4;
        out.add(new Event(cpu, copy[i], kindName((int) (copy[i + 1] >>> 32)),
            (int) copy[i + 1], copy[i + 2], copy[i + 3]));
      }
      return out;
    }
  }
}
