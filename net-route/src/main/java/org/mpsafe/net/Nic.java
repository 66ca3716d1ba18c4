package org.mpsafe.net;

import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;
import org.mpsafe.kern.Cpu;
import org.mpsafe.kern.Device;

/**
 * A NIC: traffic arriving for one CPU. It is hardware, so its thread ({@code nic/N}) holds no
 * virtual CPU: it fills packets into CPU N's input queue and raises the receive interrupt on
 * CPU N ({@code softint_schedule_cpu} of {@code ipintr}), asynchronously to whatever CPU N is
 * running — which is how, in a real kernel, softnet comes to preempt an {@code xcall/N} thread
 * between its {@code xc_tailp++} and its callback.
 *
 * <p>Destinations are drawn (from a seeded generator): 45% to hosts of the permanent /24s
 * (always routed; 1% of all packets with TTL 1), 50% to hosts of the churned /24s (routed only
 * while their address exists) and 5% to an unroutable net; with a local share
 * ({@code localPercent} &gt; 0, drawn first) that share goes to the interfaces' own addresses.
 * Rate: {@code burst} packets, then a pause of {@code pauseNanos}; a full queue drops
 * (counted), and a queue more than half full makes the
 * NIC drop whole bursts without raising the interrupt ({@link IpInput#congested}).
 *
 * <p>On a host-scheduled machine the NIC is a host thread ({@link #run}) that pauses on the
 * host's clock. On a deterministic machine it is a {@link Device}: the machine fires it on its
 * virtual clock, one burst per firing, inside a scheduling step, so when packets arrive and
 * when the interrupt is raised are part of the seeded schedule.
 */
final class Nic implements Runnable, Device {
  private final NetStack net;
  private final Cpu cpu;
  private final Ifnet rcvif;
  private final int[] stable;
  private final int[] churned;
  private final SplittableRandom rnd;
  private final int burst;
  private final long pauseNanos;
  private final int localPercent;
  volatile boolean stop;
  final Thread thread;
  /** The load whose detach churn's interface this NIC also feeds, or null. */
  private final ForwardingLoad load;
  /** The if_percpuq this NIC is feeding now, or null (see ForwardingLoad.quiesce). */
  volatile IfPercpuq feeding;

  Nic(NetStack net, Cpu cpu, Ifnet rcvif, int[] stable, int[] churned, long seed, int burst,
      long pauseNanos, int localPercent, ForwardingLoad load) {
    this.load = load;
    this.net = net;
    this.cpu = cpu;
    this.rcvif = rcvif;
    this.stable = stable;
    this.churned = churned;
    this.rnd = new SplittableRandom(seed);
    this.burst = burst;
    this.pauseNanos = pauseNanos;
    this.localPercent = localPercent;
    this.thread = new Thread(this, "nic/" + cpu.index());
    this.thread.setDaemon(true);
  }

  /** The host thread of a host-scheduled machine: a burst, a pause, again. */
  @Override
  public void run() {
    while (!stop && net.machine.running()) {
      LockSupport.parkNanos(burstOrDrop());
    }
  }

  /**
   * A deterministic machine's device firing: one burst (or one held interrupt) now; the next
   * comes after the pause, on virtual time. Never when stopped.
   */
  @Override
  public long fire(long nowNanos) {
    if (stop) {
      return Long.MAX_VALUE;
    }
    return nowNanos + Math.max(burstOrDrop(), 1);
  }

  /** One burst into the CPU's queue and its interrupt, or a dropped burst; the pause after it. */
  private long burstOrDrop() {
    IpInput ip = net.ip;
    if (ip.congested(cpu)) {
      ip.drop(cpu, rcvif, burst);
      return Math.max(pauseNanos, 10_000);
    }
    for (int k = 0; k < burst; k++) {
      int r = rnd.nextInt(100);
      int dst;
      int ttl = 64;
      if (localPercent > 0 && rnd.nextInt(100) < localPercent) {
        dst = local(r);                              // one of our addresses: delivered
      } else if (r < 5) {
        dst = 0xC0A8_0000 | rnd.nextInt(0x10000);   // 192.168/16: no route
      } else if (r < 50) {
        dst = stable[rnd.nextInt(stable.length)] | (2 + rnd.nextInt(250));
        ttl = r == 5 ? 1 : 64;
      } else {
        dst = churned[rnd.nextInt(churned.length)] | (2 + rnd.nextInt(250));
      }
      ip.enqueue(cpu, rcvif, 0x0A00_0001, dst, ttl);
    }
    ip.kick(cpu);
    if (load != null) {
      feedPercpuq();
    }
    return pauseNanos;
  }

  /** The address {@code .1} of a permanent or churned /24, chosen by {@code r} in [0, 100). */
  private int local(int r) {
    return r < 50 ? stable[r % stable.length] | 1 : churned[r % churned.length] | 1;
  }

  /**
   * A quarter of a burst, to the stable /24s, into each detach LWP's interface: its
   * {@code if_percpuq} on this CPU, then its softint scheduled here. Announces each queue
   * first and re-checks it is still a target (ForwardingLoad.quiesce).
   */
  private void feedPercpuq() {
    for (int j = 0; j < load.rxTargets.length(); j++) {
      IfPercpuq ipq = load.rxTargets.get(j);
      if (ipq == null) {
        continue;
      }
      feeding = ipq;
      if (load.rxTargets.get(j) == ipq) {
        for (int k = 0; k < Math.max(1, burst / 4); k++) {
          ipq.enqueue(cpu, 0x0A00_0001,
              stable[rnd.nextInt(stable.length)] | (2 + rnd.nextInt(250)), 64);
        }
        ipq.kick(cpu);
      }
      feeding = null;
    }
  }
}
