/**
 * A simplified IPv4 stack with NetBSD's object model and locking: interfaces, addresses
 * ({@code in.c}), routes ({@code route.c}) and forwarding ({@code ip_input.c}); entry point
 * {@link org.mpsafe.net.NetStack}, the PR's load {@link org.mpsafe.net.ForwardingLoad}.
 *
 * <p>Design in one paragraph. ifaddrs and rtentries are psref targets. The forwarding softint
 * ({@code ipintr} at IPL_SOFTNET, one per CPU) looks a route up under {@code rt_lock} (reader),
 * takes psrefs on it and on its ifaddr, "transmits", releases. Deleting an address
 * ({@code in_control(SIOCDIFADDR)} → {@code in_purgeaddr}) destroys its connected and local
 * routes and then the ifaddr, each through {@code psref_target_destroy}, in the deleting LWP;
 * two LWPs churning addresses on two interfaces are therefore parallel low-priority xcall users
 * — the trigger of PR kern/51632. NICs are devices outside the CPUs raising {@code ipintr}
 * asynchronously, as hardware interrupts do.
 */
package org.mpsafe.net;
