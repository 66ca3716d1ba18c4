package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.check;
import static org.mpsafe.kern.KernTestSupport.spinFor;
import static org.mpsafe.kern.KernTestSupport.spinUntilWaiting;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** spl(9): the IPL of a CPU decides who may take it at a preemption point. */
class SplTest {

  @Test
  void splraiseiplAndSplxSetTheCpuIpl() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      String r = m.call("spl", () -> {
        Cpu c = Kern.curcpu();
        StringBuilder sb = new StringBuilder();
        sb.append(Ipl.name(c.ipl())).append(' ').append(Kern.kpreemptDisabled());
        int s0 = Kern.splsoftnet();
        sb.append(" | ").append(Ipl.name(s0)).append(' ').append(Ipl.name(c.ipl()));
        sb.append(' ').append(Kern.kpreemptDisabled());
        int s1 = Kern.splraiseipl(Ipl.IPL_SOFTCLOCK); // never lowers
        sb.append(" | ").append(Ipl.name(s1)).append(' ').append(Ipl.name(c.ipl()));
        int s2 = Kern.splhigh();
        sb.append(" | ").append(Ipl.name(s2)).append(' ').append(Ipl.name(c.ipl()));
        Kern.splx(s2);
        Kern.splx(s1);
        sb.append(" | ").append(Ipl.name(c.ipl()));
        Kern.splx(s0);
        sb.append(" | ").append(Ipl.name(c.ipl())).append(' ').append(Kern.kpreemptDisabled());
        return sb.toString();
      });
      assertEquals("IPL_NONE false | IPL_NONE IPL_SOFTNET true | IPL_SOFTNET IPL_SOFTNET"
          + " | IPL_SOFTNET IPL_HIGH | IPL_SOFTNET | IPL_NONE false", r);
      assertCleanShutdown(m);
    }
  }

  /**
   * At IPL_SOFTNET neither a pending softnet softint nor a higher-priority kthread may take the
   * CPU, through any number of preemption points; a softserial softint still gets in, and when it
   * returns the interrupted LWP resumes at IPL_SOFTNET (no kthread slips in behind it). splx()
   * lowering the IPL then lets softnet in first (higher priority), then the kthread.
   */
  @Test
  void splsoftnetBlocksSoftnetAndKthreadsButNotSoftserial() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      List<String> order = new CopyOnWriteArrayList<>();
      AtomicReference<Lwp> high = new AtomicReference<>();
      AtomicReference<String> result = new AtomicReference<>();
      Softint.Handle net = m.softint().establish(Softint.SOFTINT_NET,
          () -> order.add("softnet@" + Ipl.name(Kern.curcpu().ipl())), "net");
      Softint.Handle ser = m.softint().establish(Softint.SOFTINT_SERIAL,
          () -> order.add("softser@" + Ipl.name(Kern.curcpu().ipl())), "ser");
      Lwp low = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        Lwp me = Kern.curlwp();
        int s = Kern.splsoftnet();
        m.softint().schedule(net);
        spinUntilWaiting(spinFor(high), m.cpu(0));
        for (int i = 0; i < 1000; i++) {
          Kern.preempt();
        }
        check(order.isEmpty(), "ran at IPL_SOFTNET: " + order);
        m.softint().schedule(ser);
        check(order.equals(List.of("softser@IPL_SOFTSERIAL")), "softserial did not get in: "
            + order);
        check(Kern.curcpu() == m.cpu(0) && m.cpu(0).curlwp() == me, "not back on cpu0");
        check(Kern.curcpu().ipl() == Ipl.IPL_SOFTNET,
            "IPL after the softint: " + Ipl.name(Kern.curcpu().ipl()));
        for (int i = 0; i < 1000; i++) {
          Kern.preempt();
        }
        check(order.size() == 1, "ran at IPL_SOFTNET after softserial: " + order);
        Kern.splx(s);
        result.set(String.join(",", order));
      }, "low/0");
      awaitOrStop(m, () -> low.state() == Lwp.State.ONPROC);
      high.set(m.kthreadCreate(Pri.PRI_KNET, 0, m.cpu(0),
          () -> order.add("kthread@" + Ipl.name(Kern.curcpu().ipl())), "high/0"));
      awaitOrStop(m, () -> result.get() != null);
      assertEquals("softser@IPL_SOFTSERIAL,softnet@IPL_SOFTNET,kthread@IPL_NONE", result.get());
      assertCleanShutdown(m);
    }
  }

  /**
   * A softint that interrupts an unbound LWP at raised IPL does not move it: the LWP resumes on
   * the same CPU at the same IPL, although the other CPU is idle. (A raised IPL pins the LWP as
   * kpreempt_disable() does; in NetBSD the softint borrows the interrupted LWP's context.)
   */
  @Test
  void softintAtRaisedIplDoesNotMigrateUnboundLwp() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      AtomicReference<String> ranOn = new AtomicReference<>();
      AtomicReference<String> result = new AtomicReference<>();
      Softint.Handle ser = m.softint().establish(Softint.SOFTINT_SERIAL,
          () -> ranOn.set(Kern.curcpu().name()), "ser");
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        Cpu before = Kern.curcpu();
        int s = Kern.splsoftnet();
        m.softint().schedule(ser);
        Cpu after = Kern.curcpu();
        String ipl = Ipl.name(after.ipl());
        Kern.splx(s);
        result.set(before.name() + "->" + after.name() + " at " + ipl + ", softint on "
            + ranOn.get() + ", other cpu at " + Ipl.name(m.cpu(1 - after.index()).ipl()));
      }, "wanderer");
      awaitOrStop(m, () -> result.get() != null);
      String cpu = result.get().substring(0, 4);
      assertEquals(cpu + "->" + cpu + " at IPL_SOFTNET, softint on " + cpu
          + ", other cpu at IPL_NONE", result.get());
      assertCleanShutdown(m);
    }
  }
}
