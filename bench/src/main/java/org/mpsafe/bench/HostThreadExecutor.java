package org.mpsafe.bench;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.mpsafe.kern.HostThread;

/**
 * JMH's worker pool made of {@link HostThread}s ({@code -Djmh.executor=CUSTOM
 * -Djmh.executor.class=org.mpsafe.bench.HostThreadExecutor}, set by the benchmarks' {@code @Fork}):
 * a benchmark thread that enters the machine then finds {@code curlwp()} through a field, as a
 * kthread or softint does, instead of a {@code ThreadLocal}. A fixed pool, like JMH's default.
 */
public final class HostThreadExecutor extends ThreadPoolExecutor {
  /** The constructor JMH's CUSTOM executor type calls. */
  public HostThreadExecutor(int maxThreads, String prefix) {
    super(maxThreads, maxThreads, 1, TimeUnit.MINUTES, new LinkedBlockingQueue<>(),
        HostThread.factory(prefix));
  }
}
