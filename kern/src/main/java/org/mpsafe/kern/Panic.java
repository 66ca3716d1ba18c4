package org.mpsafe.kern;

import java.util.List;

/**
 * A recorded panic: the NetBSD-format message, where it happened and what the CPUs did last.
 *
 * @param message the message as NetBSD prints it after {@code "panic: "}
 * @param cpu index of the CPU the panicking LWP ran on, or -1 outside any CPU
 * @param lwp name of the panicking LWP (e.g. {@code xcall/1}), or the host thread's name
 * @param elapsedNanos time since boot
 * @param javaStack the Java stack of the panicking thread
 * @param trace the last trace events of every CPU, oldest first
 */
public record Panic(
    String message, int cpu, String lwp, long elapsedNanos,
    List<StackTraceElement> javaStack, List<Trace.Event> trace) {

  /** {@code panic: <message>} and the place, as the console shows it. */
  public String headline() {
    return "panic: " + message;
  }

  @Override
  public String toString() {
    return headline() + " (cpu" + cpu + ", lwp " + lwp + ")";
  }
}
