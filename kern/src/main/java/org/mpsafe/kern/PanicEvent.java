package org.mpsafe.kern;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** JFR: the machine panicked (one per machine). Costs nothing unless a recording enables it. */
@Name("mpsafe.kern.Panic")
@Label("Kernel Panic")
@Category({"mpsafe", "kern"})
@Description("A KASSERT or panic() stopped the machine")
@StackTrace(true)
final class PanicEvent extends jdk.jfr.Event {
  @Label("Message")
  String message;
  @Label("CPU")
  int cpu;
  @Label("LWP")
  String lwp;
}
