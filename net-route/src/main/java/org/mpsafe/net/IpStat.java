package org.mpsafe.net;

/**
 * {@code ipstat} summed over CPUs: a snapshot.
 *
 * @param total packets taken off the input queues ({@code ips_total})
 * @param forwarded forwarded ({@code ips_forward})
 * @param delivered for this host (a local address)
 * @param noroute no route to the destination ({@code ips_noroute})
 * @param cantforward forwarding off or output interface down ({@code ips_cantforward})
 * @param timeexceeded TTL ran out ({@code ICMP_TIMXCEED})
 * @param qdrops packets the NICs could not queue ({@code ifq_drops})
 */
public record IpStat(
    long total, long forwarded, long delivered, long noroute, long cantforward,
    long timeexceeded, long qdrops) {}
