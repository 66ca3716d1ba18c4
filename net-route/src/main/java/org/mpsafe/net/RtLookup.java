package org.mpsafe.net;

/**
 * How {@code rtalloc1_psref} reads the routing table: a boot option of net-route
 * ({@code MachineConfig.withOption(RtLookup.OPTION, mode)}), read once when the stack is created.
 *
 * <p>{@link #RWLOCK} is the default and NetBSD's way, from NetBSD 7 (PR kern/51632's kernel) to
 * today: the lookup holds {@code rt_lock} as a reader ({@code RT_RLOCK()}), two atomic updates of
 * one shared word per lookup. {@link #PSERIALIZE} is the pattern NetBSD uses for its other
 * MP-safe lists ({@code IFNET_READER_FOREACH}, {@code IFADDR_READER_FOREACH}): the lookup runs
 * in a {@code pserialize} read section on a snapshot the writer republished, takes its psref
 * there and writes no shared memory; RTM_DELETE unpublishes the route under {@code rt_lock} and
 * {@code rt_free} waits with {@code pserialize_perform} before {@code psref_target_destroy}, so
 * no reader can still be between the lookup and its {@code psref_acquire} when the drain starts.
 * With this option every {@code rt_free} is deferred to the rt_free workqueue thread, which
 * performs one barrier for all the routes it finds queued ({@link RtFree}): deletes do not wait
 * for barriers, and in_purgeaddr waits for the queue before {@code ifa_remove}.
 * NetBSD's {@code route.c} never did this for routes; it is the port's fast path (issue #15),
 * documented in docs/netbsd-map.md §6.
 */
public enum RtLookup {
  /** {@code rt_lock} as a reader around the lookup (NetBSD; the default). */
  RWLOCK,
  /** A {@code pserialize} read section on a published snapshot; no lock, no shared write. */
  PSERIALIZE;

  /** The boot option's key. */
  public static final String OPTION = "net.rtLookup";
}
