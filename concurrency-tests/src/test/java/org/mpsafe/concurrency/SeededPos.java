package org.mpsafe.concurrency;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.pastalab.fray.core.ThreadContext;
import org.pastalab.fray.core.randomness.ControlledRandom;
import org.pastalab.fray.core.randomness.Randomness;
import org.pastalab.fray.core.scheduler.POSScheduler;
import org.pastalab.fray.core.scheduler.Scheduler;

/**
 * Fray's POS scheduler (partial order sampling) made run-to-run deterministic by a seed.
 *
 * <p>Fray 0.9.2 has no seed knob: its {@link ControlledRandom} draws from an unseeded
 * {@code java.util.Random}. This scheduler keeps one master {@link Random} seeded with the
 * exploration's seed and gives every iteration a fresh {@code ControlledRandom} seeded from it,
 * so iteration {@code k} of seed {@code s} sees the same random choices in every run. The
 * choices of an iteration are what Fray saves as {@code random.json} when it finds a bug; the
 * {@link #SeededPos(Randomness)} constructor replays such a recording (Fray calls it by
 * reflection with the recorded randomness).
 *
 * <p>Fray hands the scheduler the runnable threads in the iteration order of a map keyed by
 * Java thread id, and POS draws a thread's random priority the first time it sees it, in that
 * order. Thread ids depend on how many threads the JVM made before (other tests, earlier
 * explorations), so the same seed explored different schedules depending on which tests ran
 * first. The threads are therefore put in Fray's registration order (the order in which the
 * iteration created them, {@code ThreadContext.index}) before POS sees them.
 */
public final class SeededPos extends Scheduler {
  private static final Comparator<ThreadContext> BY_REGISTRATION =
      Comparator.comparingInt(ThreadContext::getIndex);

  private final Random master;
  private final POSScheduler delegate;

  /** A fresh exploration with seed {@code seed}. */
  public SeededPos(long seed) {
    this(new Random(seed));
  }

  private SeededPos(Random master) {
    super(new ControlledRandom(
        new ArrayList<>(), new ArrayList<>(), new Random(master.nextLong())));
    this.master = master;
    this.delegate = new POSScheduler(getRand());
  }

  /** Replays a recorded iteration: the recorded choices, in order. */
  public SeededPos(Randomness recorded) {
    super(recorded);
    this.master = new Random(0);
    this.delegate = new POSScheduler(recorded);
  }

  @Override
  public ThreadContext scheduleNextOperation(
      List<ThreadContext> threads, Collection<ThreadContext> allThreads) {
    List<ThreadContext> ordered = new ArrayList<>(threads);
    ordered.sort(BY_REGISTRATION);
    return delegate.scheduleNextOperation(ordered, allThreads);
  }

  @Override
  public Scheduler nextIteration(Randomness ignored) {
    return new SeededPos(master);
  }
}
