package org.mpsafe.psref;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** JFR events of psref (free unless a recording enables them). */
final class PsrefEvents {
  private PsrefEvents() {}

  @Name("mpsafe.psref.Destroy")
  @Label("psref_target_destroy")
  @Category({"mpsafe", "psref"})
  @Description("A target drained and destroyed: duration = the drain")
  @StackTrace(true)
  static final class Destroy extends Event {
    @Label("Class") String cls;
    @Label("Target") String target;
    @Label("Rounds") int rounds;
  }

  @Name("mpsafe.psref.DeadFrameRead")
  @Label("Dead psreffed Frame Read")
  @Category({"mpsafe", "psref"})
  @Description("psreffed_p_xc read the frame of a psreffed_p that had returned")
  @StackTrace(true)
  static final class DeadFrameRead extends Event {
    @Label("Frame Owner") String owner;
    @Label("Ticket") long ticket;
    @Label("CPU") int cpu;
  }
}
