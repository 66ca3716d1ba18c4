package org.mpsafe.cli;

import java.util.ArrayList;
import java.util.List;
import org.mpsafe.kern.Trace;

/**
 * Which LWP held which CPU when, from the scheduler's hand-over events ({@code sched_switch}):
 * the slices the Perfetto trace and the report's swimlane draw. A slice still open at the end
 * closes at its CPU's last event; the first one of a CPU starts at its first hand-over in the
 * ring (what came before was overwritten).
 */
final class CpuSlices {
  private CpuSlices() {}

  /** LWP {@code lwp} held CPU {@code cpu} from {@code from} to {@code to} (nanoseconds). */
  record Slice(int cpu, int lwp, long from, long to) {}

  static List<Slice> of(List<Trace.Event> trace, int ncpu) {
    List<Slice> out = new ArrayList<>();
    long[] openAt = new long[ncpu];
    int[] openLwp = new int[ncpu];
    long[] last = new long[ncpu];
    for (Trace.Event e : trace) {
      int c = e.cpu();
      if (c < 0 || c >= ncpu) {
        continue;
      }
      last[c] = e.nanos();
      if (!e.kind().equals("sched_switch")) {
        continue;
      }
      if (openLwp[c] != 0) {
        out.add(new Slice(c, openLwp[c], openAt[c], e.nanos()));
      }
      openLwp[c] = (int) e.a();
      openAt[c] = e.nanos();
    }
    for (int c = 0; c < ncpu; c++) {
      if (openLwp[c] != 0) {
        out.add(new Slice(c, openLwp[c], openAt[c], Math.max(openAt[c], last[c])));
      }
    }
    return out;
  }

  /** thread, xcall or softint, by the LWP's name. */
  static String category(String name) {
    return name.startsWith("xcall/") ? "xcall" : name.startsWith("soft") ? "softint" : "thread";
  }
}
