package org.mpsafe.net;

import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Locale;

/**
 * Where the stack takes {@code softnet_lock}, NetBSD's global mutex for the parts of the
 * network stack that are not MP-safe: the socket layer and the protocols' {@code pr_input} and
 * {@code pr_purgeif}. Set at boot with
 * {@code MachineConfig.withOption(SoftnetLock.OPTION, mode)}; the default {@link #NONE} takes
 * it nowhere (the stack of PR kern/51632, whose forwarding path never needed it).
 *
 * <p>{@link #PURGEIF_HELD} and {@link #PURGEIF_RELEASED} take it where a NET_MPSAFE kernel of
 * 2016 still did: {@code ipintr}
 * around the local delivery of a packet ({@code SOFTNET_LOCK(); (*pr_input)(m, off, nh);
 * SOFTNET_UNLOCK();}, {@code ip_input.c} 1.324), while it holds the psref of the route it
 * found; and {@code if_detach}'s {@code pr_purgeif} ({@code udp_purgeif} and the others).
 * They differ in that one place, knakahara's fix of 2016-11-18 ("ifconfig destroy can stall").
 */
public enum SoftnetLock {
  /** No {@code softnet_lock} anywhere (the default). */
  NONE,
  /**
   * Before the fix ({@code udp6_usrreq.c} 1.121 {@code udp6_purgeif}): {@code pr_purgeif}
   * holds {@code softnet_lock} across {@code in_purgeif}, so every {@code psref_target_destroy}
   * of the interface's routes and addresses waits for readers with the lock held.
   */
  PURGEIF_HELD,
  /**
   * After the fix ({@code udp6_usrreq.c} 1.137.2.1 {@code udp6_purgeif}, under NET_MPSAFE):
   * {@code pr_purgeif} drops {@code softnet_lock} around {@code in_purgeif} and takes it again
   * for the PCB purge after it; no drain runs with the lock held.
   */
  PURGEIF_RELEASED,
  /**
   * NetBSD 7 without NET_MPSAFE: {@code ipintr} holds {@code softnet_lock} around its whole
   * batch ({@code ip_input.c} 1.324 {@code ipintr}: {@code mutex_enter(softnet_lock)} before the
   * dequeue loop), so a softint waits for the lock before it takes any reference, and
   * {@code pr_purgeif} holds it across {@code in_purgeif} as in {@link #PURGEIF_HELD}. No
   * deadlock: a drain under the lock finds no reader holding a psref. What it does make is a
   * softnet LWP that sleeps in {@code ipintr} for as long as a purge runs (softint-disestablish's
   * window).
   */
  IPINTR;

  /** The boot option's key. */
  public static final String OPTION = "net.softnetLock";

  /** Parses {@code none} / {@code purgeif-held} / {@code purgeif-released} (or the names). */
  public static SoftnetLock parse(String s) {
    checkNotNull(s, "softnet_lock mode");
    return valueOf(s.trim().replace('-', '_').toUpperCase(Locale.ROOT));
  }

  /** True if the stack takes {@code softnet_lock} at all. */
  public boolean taken() {
    return this != NONE;
  }

  /** True if {@code ipintr} holds the lock around its whole batch ({@link #IPINTR}). */
  public boolean ipintrLocked() {
    return this == IPINTR;
  }

  /**
   * True if {@code ipintr} takes the lock only around local delivery, holding the route's psref
   * ({@link #PURGEIF_HELD}, {@link #PURGEIF_RELEASED}).
   */
  public boolean localDeliveryLocked() {
    return this == PURGEIF_HELD || this == PURGEIF_RELEASED;
  }
}
