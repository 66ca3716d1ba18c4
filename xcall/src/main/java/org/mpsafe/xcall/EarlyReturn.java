package org.mpsafe.xcall;

import java.util.List;

/**
 * What the early-return detector saw: {@code xc_wait(ticket)} returned while callbacks of the
 * job that ticket belongs to had not finished. This is PR kern/51632's root cause made visible.
 *
 * @param ticket the ticket the waiter passed to {@code xc_wait}
 * @param job the job's sequence number (1 = first low-priority job of the machine)
 * @param waiter the LWP whose {@code xc_wait} returned
 * @param running CPUs that were still inside the job's callback
 * @param notStarted CPUs that had not yet started it
 * @param donep {@code xc_donep} when the wait returned
 * @param uptimeNanos when, since boot
 */
public record EarlyReturn(
    long ticket, long job, String waiter, List<Integer> running, List<Integer> notStarted,
    long donep, long uptimeNanos) {

  public String describe() {
    return "xc_wait(" + ticket + ") in " + waiter + " returned early: job " + job
        + " still running on cpu" + running + (notStarted.isEmpty() ? "" : ", not started on cpu"
        + notStarted) + ", xc_donep=" + donep;
  }
}
