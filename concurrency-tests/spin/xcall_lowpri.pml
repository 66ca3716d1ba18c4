/*
 * xcall_lowpri.pml -- Promela model of NetBSD's LOW-PRIORITY cross-call
 * protocol (sys/kern/subr_xcall.c: xc_lowpri, xc_thread, xc_wait) and of
 * PR kern/51632.
 *
 *   spin -a xcall_lowpri.pml                    fixed accounting (>= Nov 2016)
 *   spin -DLEGACY -a xcall_lowpri.pml           buggy accounting with xc_tailp
 *   spin -DNCPU=3 ...                           number of CPUs (default 2)
 *
 * Processes: one bound thread xc_thread(c) ("xcall/c") per CPU and NREQ = 2
 * requesters, each doing xc_broadcast(0, func, &job, NULL) (= xc_lowpri with
 * ci == NULL) followed by xc_wait(where).  Every CPU is SPCF_RUNNING.
 *
 * Property (assert in the requester right after xc_wait returns):
 *   "when xc_wait(t) returns, every callback of the job with ticket t has
 *    finished", i.e. finished[job] == sent[job].
 * The requester's job arguments live on its stack (psref_target_destroy
 * passes &P); returning early is what made psreffed_p_xc read a dead frame.
 *
 * Hangs: pan checks invalid end states.  Requesters must terminate; the
 * only valid end state of an xcall thread is its idle sleep on cpu_xcall
 * (label end_idle).  A lost wakeup of an xcall thread would leave its job
 * unfinished and hence the job's requester stuck in xc_wait -> reported.
 *
 * Comments "C: ..." quote the C statement of subr_xcall.c v1.18 (2013, the
 * buggy version with xc_tailp) that a Promela statement models; the FIXED
 * variant is the PR kern/51632 patch (Nov 2016), which replaces every
 * xc_tailp by xc->xc_donep and drops xc_tailp++.
 *
 * Granularity: every access to shared state is its own step, except that a
 * few consecutive statements executed while HOLDING xc_lock are merged into
 * one d_step.  No process reads that state without the lock (the only
 * unlocked reads are xc_wait's fast-path read of xc_donep, which is written
 * in a single step, and the ghost counters), so merging only removes
 * equivalent interleavings.  printf's exist for the trail replay only
 * (pan does not execute them).
 */

#ifndef NCPU
#define NCPU 2
#endif
#define NREQ 2                  /* requesters A (job 1) and B (job 2)        */

#ifdef LEGACY
#define ADMIT xc_tailp          /* C: while (xc->xc_headp != xc_tailp)       */
#else
#define ADMIT xc_donep          /* fix: while (xc->xc_headp != xc->xc_donep) */
#endif

/* ---- xc_state_t xc_low_pri ------------------------------------------- */
byte xc_lock = 0;               /* kmutex_t xc_lock: 0 free, else owner _pid+1 */
byte xc_headp = 0;              /* uint64_t xc_headp: callbacks requested      */
byte xc_donep = 0;              /* uint64_t xc_donep: callbacks returned       */
byte xc_arg1 = 0;               /* xc_func/xc_arg1/xc_arg2 collapsed into the
                                   job id (1..NREQ); 0 plays NULL              */
bool busy_waiting[NREQ];        /* kcondvar_t xc_busy: wait queue, requester r
                                   is asleep on it (only requesters wait)     */
#ifdef LEGACY
byte xc_tailp = 0;              /* static uint64_t xc_tailp: callbacks STARTED */
#endif

/* ---- per CPU: ci->ci_data ------------------------------------------- */
bool cpu_xcall_pending[NCPU];   /* ci_data.cpu_xcall_pending                   */
bool cpu_xcall_waiting[NCPU];   /* kcondvar_t ci_data.cpu_xcall: wait queue,
                                   its only sleeper is xcall/c                 */

/* ---- ghost state (not in the kernel) -------------------------------- */
byte sent[NREQ + 1];            /* sent[j]: CPUs job j was posted to           */
byte finished[NREQ + 1];        /* finished[j]: callbacks of job j returned    */
byte incb[NCPU];                /* incb[c]: job whose callback CPU c runs, 0 none */

#define NAME(j) (64 + (j))      /* job 1 -> 'A', job 2 -> 'B'                  */
#ifdef LEGACY
#define SHOW_ADMIT printf(" tailp=%d", xc_tailp)
#else
#define SHOW_ADMIT skip
#endif

/* ---- kmutex_t ------------------------------------------------------- */
inline mutex_enter() {
    atomic { xc_lock == 0 -> xc_lock = _pid + 1 }
}
inline mutex_exit() {
    d_step { assert(xc_lock == _pid + 1); xc_lock = 0 }
}

/*
 * ---- kcondvar_t -------------------------------------------------------
 * cv_wait(cv, lock): enqueue on cv and release the lock in ONE atomic step
 * (as sleepq does under the mutex), sleep until a cv_signal/cv_broadcast
 * dequeues us, then re-acquire the lock (competing like anybody else).
 * Signal/broadcast only dequeue threads already enqueued, so a wakeup sent
 * before the wait is lost -- exactly like a real cv.  No spurious wakeups.
 */
inline cv_wait_busy(r) {        /* cv_wait(&xc->xc_busy, &xc->xc_lock)         */
    d_step { assert(xc_lock == _pid + 1); busy_waiting[r] = true; xc_lock = 0 };
    !busy_waiting[r];           /* asleep                                       */
    mutex_enter()
}
inline cv_broadcast_busy(c) {   /* cv_broadcast(&xc->xc_busy), called by CPU c  */
    d_step {
        if
        :: busy_waiting[0] || busy_waiting[1] ->
            printf("CPU%d: idle and headp == ADMIT: cv_broadcast(xc_busy) wakes sleeping requesters\n", c)
        :: else -> skip
        fi;
        busy_waiting[0] = false; busy_waiting[1] = false    /* NREQ == 2 */
    }
}

/* ==================================================================== */
proctype requester(byte r)
{
    byte job = r + 1;           /* &P on the requester's stack                 */
    byte where;
    byte c;

    /* ---- xc_lowpri(func, arg1, arg2, NULL) ---------------------------- */
    mutex_enter();                                  /* C: mutex_enter(&xc->xc_lock) */
    do                                              /* C: while (xc_headp != ADMIT) */
    :: xc_headp != ADMIT ->
        atomic { printf("%c: xc_lowpri blocks on xc_busy (headp=%d donep=%d", NAME(job), xc_headp, xc_donep);
                 SHOW_ADMIT; printf(")\n") };
        cv_wait_busy(r)                             /* C:   cv_wait(&xc->xc_busy, ...) */
    :: else -> break
    od;
    xc_arg1 = job;                                  /* C: xc_arg1 = arg1; ... xc_func = func */
    c = 0;
    do                                              /* C: for (CPU_INFO_FOREACH(cii, ci)) */
    :: d_step {
            c < NCPU ->                             /* (guard inside the step) */
            xc_headp++;                             /* C:   xc->xc_headp += 1 */
            cpu_xcall_pending[c] = true;            /* C:   cpu_xcall_pending = true */
            cpu_xcall_waiting[c] = false;           /* C:   cv_signal(&ci->ci_data.cpu_xcall) */
            sent[job]++;                            /* ghost */
            c++
        }
    :: else -> c = 0; break
    od;
    assert(ADMIT < xc_headp);                       /* C: KASSERT(xc_tailp < xc->xc_headp) */
    where = xc_headp;                               /* C: where = xc->xc_headp */
    atomic { printf("%c: admitted, posted to %d CPUs, ticket where=%d (donep=%d", NAME(job), sent[job], where, xc_donep);
             SHOW_ADMIT; printf(")\n") };
    mutex_exit();                                   /* C: mutex_exit(&xc->xc_lock) */

    /* ---- xc_wait(where) ----------------------------------------------- */
    if
    :: xc_donep >= where ->                         /* C: fast path, unlocked read */
        printf("%c: xc_wait(%d) fast path, donep=%d\n", NAME(job), where, xc_donep)
    :: else ->
        mutex_enter();                              /* C: mutex_enter(&xc->xc_lock) */
        do                                          /* C: while (xc->xc_donep < where) */
        :: xc_donep < where ->
            printf("%c: xc_wait(%d) sleeps on xc_busy (donep=%d)\n", NAME(job), where, xc_donep);
            cv_wait_busy(r)                         /* C:   cv_wait(&xc->xc_busy, ...) */
        :: else -> break
        od;
        mutex_exit()                                /* C: mutex_exit(&xc->xc_lock) */
    fi;

    /* ---- the property ------------------------------------------------- */
    d_step {
        printf("%c: xc_wait(%d) returns: donep=%d, %d of %d callbacks of job %c finished",
               NAME(job), where, xc_donep, finished[job], sent[job], NAME(job));
        c = 0;
        do
        :: c < NCPU -> if :: incb[c] == job -> printf("; CPU%d STILL IN CALLBACK of %c", c, NAME(job))
                          :: else -> skip fi; c++
        :: else -> c = 0; break
        od;
        printf("\n")
    };
    assert(finished[job] == sent[job])
}

/* ==================================================================== */
proctype xc_thread(byte c)      /* kthread "xcall/c", bound to CPU c */
{
    byte arg;                   /* local copy of xc_func/xc_arg1/xc_arg2 */

    mutex_enter();                                  /* C: mutex_enter(&xc->xc_lock) */
    do                                              /* C: for (;;) */
    ::
        do                                          /* C: while (!cpu_xcall_pending) */
        :: !cpu_xcall_pending[c] ->
            if                                      /* C: if (xc_headp == ADMIT) */
            :: xc_headp == ADMIT ->
                cv_broadcast_busy(c)                /* C:   cv_broadcast(&xc->xc_busy) */
            :: else -> skip
            fi;
            /* C: cv_wait(&ci->ci_data.cpu_xcall, &xc->xc_lock) */
            d_step { assert(xc_lock == _pid + 1); cpu_xcall_waiting[c] = true; xc_lock = 0 };
end_idle:   !cpu_xcall_waiting[c];                  /* idle: the valid end state */
            mutex_enter()
        :: else -> break
        od;
        cpu_xcall_pending[c] = false;               /* C: cpu_xcall_pending = false */
        arg = xc_arg1;                              /* C: func = xc_func; arg1 = ...  */
#ifdef LEGACY
        xc_tailp++;                                 /* C: xc_tailp++  (the bug) */
#endif
        assert(arg != 0);                           /* C: KASSERT(func != NULL) */
        d_step {                                    /* C: mutex_exit(&xc->xc_lock) */
            assert(xc_lock == _pid + 1); xc_lock = 0;
            incb[c] = arg;                          /* ghost: callback begins */
            printf("CPU%d: takes job %c, callback starts (headp=%d donep=%d", c, NAME(arg), xc_headp, xc_donep);
            SHOW_ADMIT; printf(")\n")
        };
        d_step {                                    /* C: (*func)(arg1, arg2) returns */
            finished[arg]++; incb[c] = 0;           /* ghost */
            printf("CPU%d: callback of job %c returns (%d/%d done)\n", c, NAME(arg), finished[arg], sent[arg]);
            arg = 0
        };
        mutex_enter();                              /* C: mutex_enter(&xc->xc_lock) */
        d_step {
            xc_donep++;                             /* C: xc->xc_donep++ */
            printf("CPU%d: donep++ -> donep=%d (headp=%d)\n", c, xc_donep, xc_headp)
        }
    od
}

init
{
    byte i;
    atomic {
        for (i : 0 .. NCPU - 1) { run xc_thread(i) }
        for (i : 0 .. NREQ - 1) { run requester(i) }
        i = 0
    }
}
