/**
 * JMH benchmarks of mpsafe, each beside its baseline: psref acquire/release vs an
 * {@code AtomicLong} refcount and a {@code LongAdder} ({@link org.mpsafe.bench.PsrefBench}),
 * xcall broadcast + {@code xc_wait} vs executors + {@code CountDownLatch} and a park/unpark
 * handoff ({@link org.mpsafe.bench.XcallBench}), {@code psref_target_destroy}
 * ({@link org.mpsafe.bench.PsrefDestroyBench}), the forwarding lookup vs a
 * {@code ReentrantReadWriteLock} table with refcounts ({@link org.mpsafe.bench.LookupBench}) and
 * the preemption point ({@link org.mpsafe.bench.PreemptBench}).
 *
 * <p>Benchmark threads are plain host threads (JMH's); each enters the machine once in its
 * trial setup with {@link org.mpsafe.kern.Machine#enter} (bound to its own virtual CPU) and
 * exits in its teardown. How to run and read them: {@code bench/README.md}.
 */
package org.mpsafe.bench;
