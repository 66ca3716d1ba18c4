package org.mpsafe.net;

import java.util.concurrent.atomic.LongAdder;
import org.mpsafe.kern.EvCnt;
import org.mpsafe.kern.KMutex;
import org.mpsafe.kern.KObject;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.Machine;

/**
 * {@code struct ifnet}: a network interface. Up/down is {@code IFF_UP}; output is only counted
 * ({@code if_opackets}, per CPU); {@code ifq_drops} counts packets its NIC could not queue.
 */
public final class Ifnet implements KObject {
  private final long kaddr = Kaddr.alloc();
  final String name;
  final int index;
  volatile boolean up = true;
  volatile boolean detached;
  final EvCnt opackets;
  final EvCnt ipackets;
  /** {@code ifq_drops}: counted by the device side (host threads), hence atomic. */
  final LongAdder iqdrops = new LongAdder();
  /** {@code IFNET_LOCK}: serialises in_control on this interface. */
  final KMutex ioctlLock;
  /** {@code if_percpuq}: its input queues and softint, or null; set before it is published. */
  IfPercpuq percpuq;

  Ifnet(Machine m, String name, int index) {
    this.name = name;
    this.index = index;
    this.opackets = new EvCnt(m, name, "opackets");
    this.ipackets = new EvCnt(m, name, "ipackets");
    this.ioctlLock = new KMutex(name + " ioctl");
  }

  public String name() {
    return name;
  }

  /** {@code if_index}. */
  public int index() {
    return index;
  }

  /** {@code IFF_UP}. */
  public boolean isUp() {
    return up;
  }

  /** True once {@code if_detach} ran. */
  public boolean isDetached() {
    return detached;
  }

  /** {@code ifconfig NAME up|down}. */
  public void setUp(boolean up) {
    this.up = up;
  }

  public long opackets() {
    return opackets.value();
  }

  public long ipackets() {
    return ipackets.value();
  }

  public long iqdrops() {
    return iqdrops.sum();
  }

  @Override
  public long kaddr() {
    return kaddr;
  }

  @Override
  public String toString() {
    return name;
  }
}
