package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Deterministic;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.MachineConfig;
import org.mpsafe.kern.Schedule;
import org.mpsafe.psref.PsrefOptions;

class RtcacheSharedTest {
  record Outcome(String digest, long steps, long virtualNanos, String outcome, String panic,
      long churnCycles) {}

  static Outcome run(IpforwardRtcache mode, int cpus, long seed, Duration virtual) {
    try (Machine m = Machine.boot(MachineConfig.of(cpus).withTraceSize(256)
        .withWatchdog(Duration.ofSeconds(30))
        .withOption(IpforwardRtcache.OPTION, mode)
        .withOption(PsrefOptions.OPTION_DEBUG, true)
        .withOption(Deterministic.OPTION,
            Deterministic.of(seed, Deterministic.Strategy.random())))) {
      NetStack net = NetStack.create(m);
      ForwardingLoad f = ForwardingLoad.start(net,
          new ForwardingLoad.Config(2, 2, 4, seed, 64, 16_000_000L));
      m.advance(virtual);
      Schedule s = m.schedule().orElseThrow();
      Outcome o = new Outcome(s.digest(), s.steps(), s.virtualNanos(), m.outcome().name(),
          m.panic().map(p -> p.message() + " on cpu" + p.cpu() + " in " + p.lwp()).orElse(null),
          f.churnCycles());
      assertEquals(List.of(), m.shutdown());
      return o;
    }
  }

  @Test
  void explore() {
    for (long seed = 1; seed <= 12; seed++) {
      System.out.println("shared " + seed + " " + run(IpforwardRtcache.SHARED, 4, seed,
          Duration.ofSeconds(2)));
    }
    for (long seed = 1; seed <= 3; seed++) {
      System.out.println("percpu " + seed + " " + run(IpforwardRtcache.PERCPU, 4, seed,
          Duration.ofSeconds(2)));
    }
  }
}
