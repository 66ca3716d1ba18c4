package org.mpsafe.net;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.mpsafe.kern.KCondvar;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.psref.Pserialize;
import org.mpsafe.psref.PsrefTarget;
import org.mpsafe.psref.Psrefs;

/**
 * Freeing routes ({@code sys/net/route.c}: {@code rt_free}, {@code _rt_free}, the "rt_free"
 * workqueue and {@code rt_free_work}): wait until no refcount and no psref is left on an
 * unlinked rtentry, drop its {@code ifa_refcnt}, free it. The caller has unlinked the route
 * under {@code rt_lock} (RTM_DELETE) and hands over the reference rtrequest gave it.
 *
 * <p>As in NetBSD, thread context frees inline (the deleting LWP drains the psref itself: the
 * parallel low-priority xcall user of PR kern/51632) and a softint queues the route for the
 * rt_free thread. With {@link RtLookup#PSERIALIZE} thread context queues too, and the thread
 * frees all it finds queued after one {@code pserialize_perform} (notes: "Batched rt_free").
 *
 * <pre>
 * Implementation notes
 *
 * NetBSD (route.c, NET_MPSAFE): rt_free frees inline when rt_wait_ok() (not in a softint);
 * otherwise it queues the route on rt_free_global.queue and enqueues one work item unless one
 * is pending; rt_free_work then takes queued routes one by one until the queue is empty, each
 * through _rt_free (rt_wait_refcnt, psref_target_destroy, ifafree). The rt_free thread here is
 * that workqueue's worker (a kthread at PRI_KNET instead of a workqueue at PRI_SOFTNET).
 *
 * Batched rt_free (RtLookup.PSERIALIZE only; not NetBSD). The lock-free lookup needs a
 * pserialize barrier between a route's unpublish and its psref drain (a reader may have found it
 * in an older snapshot and not yet acquired). Done per delete in the deleting LWP, the barrier
 * (a high-priority xcall on every CPU) and the drain (a low-priority xcall round) made a route
 * changer wait about 0.2 + 0.3 ms per delete on CPUs busy forwarding (LookupBench: 3.5k
 * changes/s of 10k asked). So every thread-context rt_free queues as a softint's does, and one
 * run of the rt_free thread takes the whole queue: drops the handed-over references, waits for
 * each refcount, performs ONE barrier, then drains the run's psref targets together
 * (Psrefs.targetDestroyAll: one psreffed_p round checks them all) and ifafrees each route. A
 * barrier's guarantee covers every route unpublished before it began, so one suffices for the
 * run (R1). The psref rules are untouched: each route is unpublished before its drain starts,
 * and each target is destroyed only after a round in which no CPU held it, as
 * psref_target_destroy does; the batch only shares the rounds.
 *
 * What the deferral changes for callers, and how it is kept safe:
 *  - ip_forward takes an ifaddr psref on rt_ifa of a route it holds, and for the address's
 *    own routes relies on the routes' drains having ended every such forwarder before
 *    ifa_remove (IpInput notes). A deferred free would not have drained them when rtinit
 *    returns, so in_purgeaddr waits for the queue (waitFor, a workqueue_wait) before
 *    ifa_remove, and ifa_remove asserts R2.
 *  - the queue is bounded (R3): a deleter in thread context waits while RT_FREE_QUEUE_MAX
 *    routes are queued, so a changer faster than the rt_free thread is slowed, not fed memory.
 *  - NetStack.destroy waits (drain) before psref_class_destroy, as before.
 *
 * Invariants (cited by tests and KASSERT messages)
 *  R1  PSERIALIZE: a route's psref drain starts only after a pserialize barrier that began
 *      after the route was unpublished (rtentry.unlinkPsz < the barrier's number, checked in
 *      destroy). Barrier numbers come from barriersStarted, counted before each barrier starts;
 *      unlinkPsz is read under rt_lock after the snapshot without the route was published.
 *  R2  PSERIALIZE: when ifa_remove destroys an ifaddr's psref target, no route through that
 *      ifaddr is queued for or being freed by the rt_free thread. in_purgeaddr's waitFor drains
 *      what was queued before it and marks the ifaddr (rtFreeWaited) under rtFreeLock; a
 *      thread-context rt_free that finds the mark frees inline instead of queueing. (A softint
 *      rt_free must queue; no softint in the model frees a route through an address being
 *      purged: rt_free's callers are rtrequest's, all in thread context.)
 *  R3  PSERIALIZE: at most RT_FREE_QUEUE_MAX routes are queued, plus the run being freed.
 *
 * Synchronization
 *   field           written by                       read by               guarded by
 *   queue           rt_free callers, rt_free thread  same                  rtFreeLock
 *   batch           rt_free thread                   it; pendingThrough    rtFreeLock for writes
 *   queued, done    rt_free callers / rt_free thread waiters (drain)       rtFreeLock
 *   ia.rtFreeWaited waitFor                          thread-context free   rtFreeLock
 *   rt.unlinkPsz    RTM_DELETE (once)                destroy               rt_lock, then hand-off
 *   barriersStarted barrier()                        unpublish, tests      atomic
 * </pre>
 */
final class RtFree {
  private static final String FILE = "sys/net/route.c";
  /** Where R1 … are stated, for their KASSERT messages. */
  static final String NOTES = "RtFree.java notes";
  /** R3: a thread-context rt_free waits while this many routes are queued and not yet taken. */
  static final int RT_FREE_QUEUE_MAX = 128;

  private final RouteTable rt;
  /** {@link RtLookup#PSERIALIZE}: the barrier before each drain (R1); null with RWLOCK. */
  private final Pserialize rtPsz;
  /** The {@code pserialize_perform} calls begun, each counted before it starts (R1). */
  private final AtomicLong barriersStarted = new AtomicLong();
  /** {@code rt_free_global.lock}; also the lock of the refcount waiters' cv. */
  private final KMutex rtFreeLock = new KMutex("rt_free");
  /** {@code rt->rt_cv} (one for all routes): refcount waiters, drain waiters, R3's waiters. */
  private final KCondvar rtFreeCv = new KCondvar("rtentry");
  /** {@code rt_free_global.queue}: under rtFreeLock. */
  private final ArrayDeque<Rtentry> queue = new ArrayDeque<>();
  private final KCondvar work = KCondvar.forIdleWait("rt_free");
  /**
   * The run the rt_free thread took off the queue and is freeing (PSERIALIZE; empty with RWLOCK,
   * whose thread takes one route at a time). Changed under rtFreeLock by that thread only, which
   * also reads it without the lock; others read it under rtFreeLock (R2's check).
   */
  private final ArrayList<Rtentry> batch = new ArrayList<>();
  /** The rt_free thread's: the psref targets of {@link #batch}, drained together. */
  private final ArrayList<PsrefTarget> targets = new ArrayList<>();
  /** Under rtFreeLock: routes handed to the rt_free thread so far (drain's tickets). */
  private long queued;
  /** Under rtFreeLock: how many of those the rt_free thread has freed. */
  private long done;

  /** {@code workqueue_create("rt_free", ...)}: starts the rt_free thread. Call from an LWP. */
  RtFree(Machine m, RouteTable rt, Pserialize rtPsz) {
    this.rt = rt;
    this.rtPsz = rtPsz;
    m.kthreadCreate(Pri.PRI_KNET, Machine.KTHREAD_MPSAFE, null, this::worker, "rt_free");
  }

  /** {@link RtLookup#PSERIALIZE}: thread-context rt_free queues too ("Batched rt_free"). */
  private boolean batched() {
    return rtPsz != null;
  }

  /**
   * {@code rt_free(rt)}: drops the caller's reference; from thread context waits for every other
   * reference (refcount, then psref) and frees the route; from a softint defers that to the
   * rt_free thread. With {@link RtLookup#PSERIALIZE} thread context defers as well, waiting
   * first while the queue is full (R3). May sleep outside a softint.
   */
  void free(Rtentry r) {
    Kassert.kassert(r.refcnt.get() > 0, "rt->rt_refcnt > 0", FILE, 640);
    if (!Kern.cpuSoftintrP()) {
      if (batched() && defer(r)) {
        return;
      }
      r.refcnt.decrementAndGet();
      freeInline(r);
      return;
    }
    rtFreeLock.enter();
    enqueue(r);
    rtFreeLock.exit();
  }

  /** Hands {@code r} (with the caller's reference) to the rt_free thread. Holds rtFreeLock. */
  private void enqueue(Rtentry r) {
    queue.add(r);
    queued++;
    work.signal();
  }

  /**
   * Thread-context rt_free with {@link RtLookup#PSERIALIZE}: waits while
   * {@link #RT_FREE_QUEUE_MAX} routes are queued (R3), then queues {@code r} — unless
   * in_purgeaddr has already waited for the queue on behalf of its ifaddr (R2): then returns
   * false and the caller frees it inline. May sleep.
   */
  private boolean defer(Rtentry r) {
    rtFreeLock.enter();
    while (queue.size() >= RT_FREE_QUEUE_MAX) {
      rtFreeCv.await(rtFreeLock);
    }
    boolean defer = !r.rtIfa.rtFreeWaited;
    if (defer) {
      enqueue(r);
    }
    rtFreeLock.exit();
    return defer;
  }

  /** {@code _rt_free}. May sleep. */
  private void freeInline(Rtentry r) {
    waitRefcnt(r);
    long barrier = 0;
    if (rtPsz != null) {
      // Lock-free readers may have found r in a snapshot published before RTM_DELETE: wait
      // until each has left its read section, having taken its psref or not.
      barrier = barrier();
    }
    destroy(r, barrier);
  }

  /** {@code rt_wait_refcnt("free", rt, 0)}, with _rt_free's KASSERT first. May sleep. */
  private void waitRefcnt(Rtentry r) {
    Kassert.kassertMsg(r.refcnt.get() >= 0, "rt->rt_refcnt >= 0", FILE, 598, "refcnt=%d",
        r.refcnt.get());
    rtFreeLock.enter();
    while (r.refcnt.get() > 0) {
      rtFreeCv.await(rtFreeLock);
    }
    rtFreeLock.exit();
  }

  /** {@code rt_unref}'s wake-up of rt_free's refcount waiters. */
  void wakeRefcntWaiters() {
    rtFreeLock.enter();
    rtFreeCv.broadcast();
    rtFreeLock.exit();
  }

  /**
   * {@code pserialize_perform} before a drain ({@link RtLookup#PSERIALIZE}): returns the
   * barrier's number, counted before it starts (R1). May sleep.
   */
  private long barrier() {
    long b = barriersStarted.incrementAndGet();
    rtPsz.perform();
    return b;
  }

  /**
   * The rest of {@code _rt_free} once no refcount is left: psref_target_destroy, ifafree, free.
   * With {@link RtLookup#PSERIALIZE} {@code barrier} is the number of the barrier the caller
   * performed, which must have begun after {@code r} was unpublished (R1). May sleep.
   */
  private void destroy(Rtentry r, long barrier) {
    checkR1(r, barrier);
    Psrefs.targetDestroy(r.rtPsref, rt.rtPsrefClass);
    freeDrained(r);
  }

  /** R1 for {@code r}, about to be drained after barrier number {@code barrier}. */
  private void checkR1(Rtentry r, long barrier) {
    if (rtPsz != null) {
      Kassert.kassertMsg(barrier > r.unlinkPsz, "barrier > rt->rt_unlink_psz", NOTES, 0,
          "R1: rtentry %p drained after barrier %d, unpublished after barrier %d", r, barrier,
          r.unlinkPsz);
    }
  }

  /** The end of {@code _rt_free} once {@code r}'s psref target is destroyed: ifafree, free. */
  private void freeDrained(Rtentry r) {
    rt.rtDestroys.incrementAndGet();
    rt.ifaRefLock.enter();
    r.rtIfa.free();
    rt.ifaRefLock.exit();
    r.markFreed();
  }

  /**
   * Stamps {@code r}, just unpublished, with the barriers begun so far (R1). Caller: RTM_DELETE
   * with rt_lock held as writer, after the snapshot without {@code r} was published.
   */
  void stampUnlink(Rtentry r) {
    r.unlinkPsz = barriersStarted.get();
  }

  /** {@code rt_free_work}: the rt_free thread. */
  private void worker() {
    for (;;) {
      rtFreeLock.enter();
      while (queue.isEmpty()) {
        work.await(rtFreeLock);
      }
      if (batched()) {
        workBatch();
        continue;
      }
      Rtentry r = queue.poll();
      rtFreeLock.exit();
      r.refcnt.decrementAndGet();
      freeInline(r);
      rtFreeLock.enter();
      done++;
      rtFreeCv.broadcast();
      rtFreeLock.exit();
    }
  }

  /**
   * One run of the rt_free thread with {@link RtLookup#PSERIALIZE}: takes every queued route,
   * waits for their refcounts, performs one pserialize barrier for all of them (R1), then
   * drains their psref targets together and frees each. Entered with rtFreeLock held and a
   * non-empty queue; returns without it.
   */
  private void workBatch() {
    batch.addAll(queue);
    queue.clear();
    rtFreeCv.broadcast();                   // R3: the queue has room again
    rtFreeLock.exit();
    for (Rtentry r : batch) {
      r.refcnt.decrementAndGet();           // the reference rt_free handed over
      waitRefcnt(r);
    }
    long b = barrier();
    targets.clear();
    for (Rtentry r : batch) {
      checkR1(r, b);
      targets.add(r.rtPsref);
    }
    Psrefs.targetDestroyAll(targets, rt.rtPsrefClass);
    for (Rtentry r : batch) {
      freeDrained(r);
    }
    rtFreeLock.enter();
    done += batch.size();
    batch.clear();
    rtFreeCv.broadcast();
    rtFreeLock.exit();
  }

  /**
   * {@code workqueue_wait} on the rt_free workqueue: waits until every route handed to the
   * rt_free thread before the call has been freed (its psref target destroyed). Routes queued
   * meanwhile are not waited for. Thread context; may sleep.
   */
  void drain() {
    rtFreeLock.enter();
    drainLocked();
    rtFreeLock.exit();
  }

  private void drainLocked() {
    long ticket = queued;
    while (done < ticket) {
      rtFreeCv.await(rtFreeLock);
    }
  }

  /**
   * in_purgeaddr's wait before {@code ifa_remove} (R2), with {@link RtLookup#PSERIALIZE}: waits
   * for the routes already handed to the rt_free thread, then marks {@code ia} so that its
   * routes deleted later are freed inline by their deleter. Nothing with RWLOCK, whose
   * thread-context rt_free is inline. Caller: in_purgeaddr after deleting the address's routes
   * (IFA_DESTROYING set, so no route through {@code ia} can be added); thread context; may sleep.
   */
  void waitFor(Ifaddr ia) {
    if (!batched()) {
      return;
    }
    rtFreeLock.enter();
    drainLocked();
    ia.rtFreeWaited = true;
    rtFreeLock.exit();
  }

  /**
   * True if a route through {@code ia} is queued for, or being freed by, the rt_free thread
   * (R2); always false with RWLOCK. Only inside assertions.
   */
  boolean pendingThrough(Ifaddr ia) {
    if (!batched()) {
      return false;
    }
    rtFreeLock.enter();
    try {
      for (Rtentry r : queue) {
        if (r.rtIfa == ia) {
          return true;
        }
      }
      for (Rtentry r : batch) {
        if (r.rtIfa == ia) {
          return true;
        }
      }
      return false;
    } finally {
      rtFreeLock.exit();
    }
  }

  /** Routes queued for the rt_free thread and not yet taken, for tests and {@code ps}. */
  int queueLength() {
    rtFreeLock.enter();
    try {
      return queue.size();
    } finally {
      rtFreeLock.exit();
    }
  }

  /** pserialize barriers begun before drains ({@link RtLookup#PSERIALIZE}; 0 with RWLOCK). */
  long barriers() {
    return barriersStarted.get();
  }
}
