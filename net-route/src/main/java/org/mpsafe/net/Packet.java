package org.mpsafe.net;

/**
 * A packet header: all ip_forward looks at. Packets are pooled per CPU and reused (no garbage
 * per packet): a NIC takes one from its CPU's free ring, fills it and queues it; the input
 * softint processes it and puts it back.
 */
public final class Packet {
  int src;
  int dst;
  int ttl;
  Ifnet rcvif;

  public int dst() {
    return dst;
  }

  public int ttl() {
    return ttl;
  }
}
