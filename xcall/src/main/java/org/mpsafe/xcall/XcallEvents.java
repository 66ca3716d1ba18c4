package org.mpsafe.xcall;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * JFR events of xcall, for inspecting the race in JDK Mission Control. Each is created and
 * checked with {@code isEnabled()}/{@code shouldCommit()} at its site: without a recording that
 * enables it, the JIT removes it.
 */
final class XcallEvents {
  private XcallEvents() {}

  @Name("mpsafe.xcall.Job")
  @Label("Xcall Job Dispatched")
  @Category({"mpsafe", "xcall"})
  @Description("xc_lowpri/xc_highpri posted a job: its ticket and target CPUs")
  @StackTrace(false)
  static final class Job extends Event {
    @Label("Ticket") long ticket;
    @Label("Job") long job;
    @Label("CPU Mask") long cpus;
    @Label("High Priority") boolean highpri;
  }

  @Name("mpsafe.xcall.Callback")
  @Label("Xcall Callback")
  @Category({"mpsafe", "xcall"})
  @Description("A low-priority callback running in xcall/N (the call itself)")
  @StackTrace(false)
  static final class Callback extends Event {
    @Label("CPU") int cpu;
    @Label("Job") long job;
  }

  @Name("mpsafe.xcall.WaitReturn")
  @Label("xc_wait Return")
  @Category({"mpsafe", "xcall"})
  @Description("xc_wait(ticket) returned")
  @StackTrace(false)
  static final class WaitReturn extends Event {
    @Label("Ticket") long ticket;
    @Label("xc_donep") long donep;
  }

  @Name("mpsafe.xcall.EarlyReturn")
  @Label("xc_wait Early Return")
  @Category({"mpsafe", "xcall"})
  @Description("xc_wait returned while a callback of its job had not finished (PR kern/51632)")
  @StackTrace(true)
  static final class EarlyReturn extends Event {
    @Label("Ticket") long ticket;
    @Label("Job") long job;
    @Label("Still Running On") String running;
    @Label("xc_donep") long donep;
  }
}
