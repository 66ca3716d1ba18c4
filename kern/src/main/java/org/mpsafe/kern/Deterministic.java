package org.mpsafe.kern;

import static com.google.common.base.Preconditions.checkArgument;

import java.time.Duration;
import java.util.Locale;

/**
 * The boot option that makes a {@link Machine} deterministic: one seed, one schedule.
 *
 * <pre>{@code
 * MachineConfig c = MachineConfig.of(4)
 *     .withOption(Deterministic.OPTION, Deterministic.of(42, Deterministic.Strategy.parse("pct:3")));
 * }</pre>
 *
 * <p>Under it exactly one LWP runs kernel code at any instant, machine-wide, and every choice
 * that decides the interleaving is the machine's, drawn from a generator seeded with
 * {@link #seed}: which ready LWP runs next at each scheduling point (a preemption point, a lock
 * entry, a busy-wait iteration, a block), when a device fires, when a timed wait expires. Time
 * is virtual: each scheduling step costs {@link #stepNanos} of it, and when no LWP is ready the
 * clock jumps to the next timer. The same seed, options and build give the same schedule, the
 * same digest of it and the same outcome, on any host. See {@code docs/deterministic.md}.
 *
 * @param seed seeds every choice of the schedule
 * @param strategy how the next LWP is chosen
 * @param stepNanos virtual time one scheduling step costs, at least 1
 * @param wallCap wall-clock safety net for a host waiting on the machine; zero means none
 */
public record Deterministic(long seed, Strategy strategy, long stepNanos, Duration wallCap) {
  /** The {@link MachineConfig#option} key; the value is a {@code Deterministic}. */
  public static final String OPTION = "kern.deterministic";
  /** Virtual time of one scheduling step unless given: 10 µs. */
  public static final long DEFAULT_STEP_NANOS = 10_000;

  public Deterministic {
    checkArgument(strategy != null, "strategy must not be null");
    checkArgument(stepNanos >= 1, "stepNanos must be >= 1: %s", stepNanos);
    checkArgument(wallCap != null && !wallCap.isNegative(), "wallCap must be >= 0: %s", wallCap);
  }

  /** {@code seed} with {@code strategy}, 10 µs a step, no wall-clock cap. */
  public static Deterministic of(long seed, Strategy strategy) {
    return new Deterministic(seed, strategy, DEFAULT_STEP_NANOS, Duration.ZERO);
  }

  public Deterministic withWallCap(Duration cap) {
    return new Deterministic(seed, strategy, stepNanos, cap);
  }

  /**
   * How the next LWP is chosen among the ready ones.
   *
   * @param name {@code random} or {@code pct}
   * @param depth PCT's bug depth d (d - 1 priority change points); 0 for random
   * @param horizon PCT's estimate of the run's length in steps, over which change points are
   *     spread; 0 for random
   */
  public record Strategy(String name, int depth, long horizon) {
    /** PCT's horizon unless given. */
    public static final long DEFAULT_HORIZON = 1_000_000;

    public Strategy {
      checkArgument("random".equals(name) || "pct".equals(name),
          "strategy must be random or pct: %s", name);
      checkArgument(!"pct".equals(name) || depth >= 1, "pct depth must be >= 1: %s", depth);
      checkArgument(!"pct".equals(name) || horizon >= 1, "pct horizon must be >= 1: %s",
          horizon);
    }

    public static Strategy random() {
      return new Strategy("random", 0, 0);
    }

    public static Strategy pct(int depth) {
      return new Strategy("pct", depth, DEFAULT_HORIZON);
    }

    /**
     * {@code random}, {@code pct} (depth 3) or {@code pct:D} with D &gt;= 1.
     *
     * @throws IllegalArgumentException with a one-line reason naming the text
     */
    public static Strategy parse(String text) {
      String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
      if (t.equals("random")) {
        return random();
      }
      if (t.equals("pct")) {
        return pct(3);
      }
      if (t.startsWith("pct:")) {
        int d;
        try {
          d = Integer.parseInt(t.substring(4));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("bad strategy '" + text
              + "': the depth after pct: must be a whole number >= 1");
        }
        if (d < 1) {
          throw new IllegalArgumentException("bad strategy '" + text
              + "': the depth after pct: must be >= 1");
        }
        return pct(d);
      }
      throw new IllegalArgumentException("bad strategy '" + text
          + "': expected random, pct or pct:D (D >= 1)");
    }

    @Override
    public String toString() {
      return "pct".equals(name) ? "pct:" + depth : name;
    }
  }
}
