package org.mpsafe.net;

import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;
import org.mpsafe.kern.Cpu;

/**
 * A NIC: traffic arriving for one CPU. It is hardware, so its thread ({@code nic/N}) holds no
 * virtual CPU: it fills packets into CPU N's input queue and raises the receive interrupt on
 * CPU N ({@code softint_schedule_cpu} of {@code ipintr}), asynchronously to whatever CPU N is
 * running — which is how, in a real kernel, softnet comes to preempt an {@code xcall/N} thread
 * between its {@code xc_tailp++} and its callback.
 *
 * <p>Destinations are drawn (from a seeded generator) over the configured prefixes, a share of
 * them unroutable and a share with TTL 1. Rate: {@code burst} packets, then a pause of
 * {@code pauseNanos}; a full queue drops (counted).
 */
final class Nic implements Runnable {
  private final NetStack net;
  private final Cpu cpu;
  private final Ifnet rcvif;
  private final int[] prefixes;
  private final int[] lens;
  private final SplittableRandom rnd;
  private final int burst;
  private final long pauseNanos;
  volatile boolean stop;
  final Thread thread;

  Nic(NetStack net, Cpu cpu, Ifnet rcvif, int[] prefixes, int[] lens, long seed, int burst,
      long pauseNanos) {
    this.net = net;
    this.cpu = cpu;
    this.rcvif = rcvif;
    this.prefixes = prefixes;
    this.lens = lens;
    this.rnd = new SplittableRandom(seed);
    this.burst = burst;
    this.pauseNanos = pauseNanos;
    this.thread = new Thread(this, "nic/" + cpu.index());
    this.thread.setDaemon(true);
  }

  @Override
  public void run() {
    IpInput ip = net.ip;
    while (!stop && net.machine.running()) {
      for (int k = 0; k < burst; k++) {
        int r = rnd.nextInt(100);
        int dst;
        int ttl = 64;
        if (r < 5) {
          dst = 0xC0A8_0000 | rnd.nextInt(0x10000);   // 192.168/16: no route
        } else {
          int j = rnd.nextInt(prefixes.length);
          dst = prefixes[j] | (rnd.nextInt() & ~Inet.mask(lens[j]));
          if (r < 6) {
            ttl = 1;
          }
        }
        ip.enqueue(cpu, rcvif, 0x0A00_0001, dst, ttl);
      }
      ip.kick(cpu);
      if (pauseNanos > 0) {
        LockSupport.parkNanos(pauseNanos);
      }
    }
  }
}
