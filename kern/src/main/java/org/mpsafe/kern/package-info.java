/**
 * The machine NetBSD code runs on: virtual CPUs, LWPs and the kernel primitives xcall, psref and
 * the network code rely on — a port of the rump kernel's model
 * ({@code sys/rump/librump/rumpkern/scheduler.c}) plus priority preemption at explicit points.
 *
 * <p>Design in one paragraph. A {@link org.mpsafe.kern.Machine} has {@code ncpu}
 * {@link org.mpsafe.kern.Cpu}s; an {@link org.mpsafe.kern.Lwp} (a Java platform thread) runs
 * kernel code only while it owns one, and at most one LWP owns a CPU at a time. Ownership
 * changes only under the {@link org.mpsafe.kern.Scheduler} lock, which is the happens-before
 * edge that lets per-CPU data (psref lists, percpu, evcnt, the trace ring, the IPL) be plain
 * fields. Blocking ({@link org.mpsafe.kern.KMutex}, {@link org.mpsafe.kern.KCondvar},
 * {@link org.mpsafe.kern.KRwlock}, {@code kpause}) gives the CPU up; a bound LWP comes back to
 * its own CPU, an unbound one to any; a host thread waiting for its CPU spins briefly before it
 * parks ({@link org.mpsafe.kern.HandoffSpin}), and a busy-wait yields its host core after a few
 * pauses, since the machine may have more busy LWPs than the host has cores. Softints run in
 * bound LWPs at softint priority and take the CPU at preemption points when the IPL allows —
 * which is how softnet delays an {@code xcall/N} thread, the window of PR kern/51632.
 * KASSERT/panic print NetBSD's text and stop every CPU; shutdown joins every thread. With the
 * {@link org.mpsafe.kern.Deterministic} boot option the same machine runs one LWP at a time,
 * machine-wide, every interleaving choice drawn from a seed and time virtual
 * ({@code DetScheduler}): a run is a function of its seed, replayable anywhere
 * ({@code docs/deterministic.md}). The synchronization tables and state machines are in
 * {@code docs/synchronization.md}; differences from NetBSD in {@code docs/netbsd-map.md}.
 */
package org.mpsafe.kern;
