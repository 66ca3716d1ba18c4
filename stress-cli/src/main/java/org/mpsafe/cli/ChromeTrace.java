package org.mpsafe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.mpsafe.kern.Trace;

/**
 * {@code --trace FILE.json}: a trial's last trace events in the Chrome/Perfetto trace-event
 * format (load it in ui.perfetto.dev or chrome://tracing).
 *
 * <p>One process is the machine; each CPU is a track ({@code tid} = CPU index) on which the
 * LWPs that held it are complete slices ({@code ph: X}) from the scheduler's hand-overs
 * ({@code sched_switch}), named as {@code ps} names them ({@code xcall/3}, {@code softnet/1},
 * {@code ifconfig/0}) and categorised thread, xcall or softint; softint runs that interrupted a
 * thread are nested in its slice. Each low-priority xcall ticket
 * is a flow from its {@code xc_dispatch} through the callbacks that counted it to its
 * {@code xc_wait} return; the early return, the dead-frame read, psref destroys and the panic
 * are instant events. {@code otherData} says what ran: bug, variant, seed, CPUs, mode.
 *
 * <p>Bounded: it holds what the per-CPU trace rings held at the end of the trial, the last
 * {@code --trace-events} events of each CPU (4096 by default: the last few ms of a busy CPU).
 * A slice still open at the end is closed at the CPU's last event; one that began before the
 * ring's oldest event starts there.
 */
final class ChromeTrace {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final int PID = 1;

  private ChromeTrace() {}

  static void write(TrialResult r, TrialRunner.Settings s, Path file) throws IOException {
    MAPPER.writeValue(file.toFile(), document(r, s));
  }

  static Map<String, Object> document(TrialResult r, TrialRunner.Settings s) {
    List<Map<String, Object>> ev = new ArrayList<>();
    String variant = s.buggy() ? "buggy" : "fixed";
    ev.add(meta("process_name", null, "mpsafe machine: " + s.bug() + " " + variant + ", seed "
        + r.seed()));
    List<Trace.Event> trace = r.trace() == null ? List.of() : r.trace();
    for (int c = 0; c < s.cpus(); c++) {
      ev.add(meta("thread_name", c, "cpu" + c));
      Map<String, Object> sort = meta("thread_sort_index", c, null);
      sort.put("args", Map.of("sort_index", c));
      ev.add(sort);
    }
    slices(r, s.cpus(), trace, ev);
    flows(trace, ev);
    instants(r, trace, ev);
    Map<String, Object> other = new LinkedHashMap<>();
    other.put("bug", s.bug());
    other.put("variant", variant);
    other.put("seed", r.seed());
    other.put("cpus", s.cpus());
    other.put("mode", s.strategy() == null ? "host" : "deterministic");
    if (r.schedule() != null) {
      other.put("strategy", r.schedule().strategy());
      other.put("digest", r.schedule().digest());
    }
    other.put("outcome", r.outcome().json());
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("traceEvents", ev);
    doc.put("displayTimeUnit", "ns");
    doc.put("otherData", other);
    return doc;
  }

  private static Map<String, Object> meta(String name, Integer tid, String value) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ph", "M");
    m.put("pid", PID);
    if (tid != null) {
      m.put("tid", tid);
    }
    m.put("name", name);
    if (value != null) {
      m.put("args", Map.of("name", value));
    }
    return m;
  }

  private static double us(long nanos) {
    return nanos / 1000.0;
  }

  /**
   * The LWPs' runs on each CPU, from the hand-overs ({@link CpuSlices}). Softints are nested
   * as NetBSD runs them: when softint LWPs take a CPU straight from a thread and hand it
   * straight back to that thread, the thread's slice spans them (it was interrupted, not
   * descheduled) and the softint runs are its children.
   */
  private static void slices(TrialResult r, int ncpu, List<Trace.Event> trace,
      List<Map<String, Object>> ev) {
    List<CpuSlices.Slice> all = CpuSlices.of(trace, ncpu);
    for (int c = 0; c < ncpu; c++) {
      List<CpuSlices.Slice> sl = new ArrayList<>();
      for (CpuSlices.Slice x : all) {
        if (x.cpu() == c) {
          sl.add(x);
        }
      }
      int i = 0;
      while (i < sl.size()) {
        CpuSlices.Slice a = sl.get(i);
        int end = i;   // the last slice of a's own that the nest reaches
        int k = i + 1;
        while (!isSoftint(r, a) && k < sl.size()) {
          int j = k;
          while (j < sl.size() && isSoftint(r, sl.get(j))
              && sl.get(j).from() == sl.get(j - 1).to()) {
            j++;
          }
          if (j > k && j < sl.size() && sl.get(j).lwp() == a.lwp()
              && sl.get(j).from() == sl.get(j - 1).to()) {
            end = j;
            k = j + 1;
          } else {
            break;
          }
        }
        ev.add(slice(r, c, a.lwp(), a.from(), sl.get(end).to(), end > i));
        for (int n = i + 1; n < end; n++) {
          if (sl.get(n).lwp() != a.lwp()) {
            ev.add(slice(r, c, sl.get(n).lwp(), sl.get(n).from(), sl.get(n).to(), false));
          }
        }
        i = end + 1;
      }
    }
  }

  private static boolean isSoftint(TrialResult r, CpuSlices.Slice s) {
    return CpuSlices.category(r.lwpNames().getOrDefault(s.lwp(), "")).equals("softint");
  }

  private static Map<String, Object> slice(TrialResult r, int cpu, int lwp, long from, long to,
      boolean interrupted) {
    String name = r.lwpNames().getOrDefault(lwp, "lwp" + lwp);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("ph", "X");
    m.put("pid", PID);
    m.put("tid", cpu);
    m.put("name", name);
    m.put("cat", CpuSlices.category(name));
    m.put("ts", us(from));
    m.put("dur", us(to - from));
    if (interrupted) {
      m.put("args", Map.of("interrupted_by_softints", true));
    }
    return m;
  }

  /**
   * A flow per low-priority ticket that both began ({@code xc_dispatch}) and ended
   * ({@code xc_wait_return}) in the trace, through each callback that counted it.
   */
  private static void flows(List<Trace.Event> trace, List<Map<String, Object>> ev) {
    Set<Long> began = new HashSet<>();
    Set<Long> ended = new HashSet<>();
    for (Trace.Event e : trace) {
      if (e.kind().equals("xc_dispatch")) {
        began.add(e.a());
      } else if (e.kind().equals("xc_wait_return")) {
        ended.add(e.a());
      }
    }
    began.retainAll(ended);
    Map<Long, Boolean> finished = new HashMap<>();
    for (Trace.Event e : trace) {
      long id = e.a();
      if (!began.contains(id) || finished.containsKey(id)) {
        continue;
      }
      String ph = switch (e.kind()) {
        case "xc_dispatch" -> "s";
        case "xc_callback_start" -> "t";
        case "xc_wait_return" -> "f";
        default -> null;
      };
      if (ph == null) {
        continue;
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("ph", ph);
      m.put("pid", PID);
      m.put("tid", e.cpu());
      m.put("name", "xcall ticket " + id);
      m.put("cat", "xcall");
      m.put("id", id);
      m.put("ts", us(e.nanos()));
      if (ph.equals("f")) {
        m.put("bp", "e");
        finished.put(id, true);
      }
      ev.add(m);
    }
  }

  private static void instants(TrialResult r, List<Trace.Event> trace,
      List<Map<String, Object>> ev) {
    for (Trace.Event e : trace) {
      String k = e.kind();
      if (!k.equals("xc_early_return") && !k.equals("psref_dead_frame_read")
          && !k.equals("panic") && !k.equals("psref_destroy_start")
          && !k.equals("psref_destroy_end")) {
        continue;
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("ph", "i");
      m.put("s", k.equals("panic") ? "g" : "t");
      m.put("pid", PID);
      m.put("tid", e.cpu());
      m.put("name", k);
      m.put("ts", us(e.nanos()));
      Map<String, Object> args = new LinkedHashMap<>();
      args.put("lwp", r.lwpNames().getOrDefault(e.lwp(), "lwp" + e.lwp()));
      args.put("detail", PanicReport.args(e));
      if (k.equals("panic") && r.panic() != null) {
        args.put("message", r.panic().message());
      }
      m.put("args", args);
      ev.add(m);
    }
  }
}
