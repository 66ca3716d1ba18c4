package org.mpsafe.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.mpsafe.kern.Trace;

/**
 * {@code --report FILE.html}: one self-contained page (no scripts, no network) with the summary,
 * the panic and its timeline, and inline-SVG plots of throughput and churn over time and of
 * the time-to-panic distribution. The JSON summary is embedded too.
 */
final class HtmlReport {
  private HtmlReport() {}

  static void write(RunReport r, Path file) throws IOException {
    Files.writeString(file, render(r));
  }

  static String render(RunReport r) throws IOException {
    StringBuilder h = new StringBuilder(16_384);
    Catalog.Entry entry = Catalog.get(r.settings().bug());
    h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<title>mpsafe repro: ").append(esc(entry.id())).append("</title><style>")
        .append("body{font-family:sans-serif;margin:2em;max-width:72em;color:#222}")
        .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;")
        .append("text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:1em;")
        .append("overflow-x:auto;font-size:85%}.panic{color:#a00}")
        .append("</style></head><body>\n");
    h.append("<h1>mpsafe repro — ").append(esc(entry.id())).append("</h1>\n<p>")
        .append(esc(entry.title())).append("</p>\n<p>variant <b>")
        .append(r.settings().buggy() ? "buggy" : "fixed").append("</b>, xcall accounting <b>")
        .append(esc(r.toJson().get("xcall").toString())).append("</b>, xc_wait spin ")
        .append(r.settings().xcWaitSpin() ? "on" : "off").append(", ")
        .append(r.settings().cpus()).append(" CPUs, ").append(r.settings().interfaces())
        .append(" interfaces, ").append(r.settings().churnLwps()).append(" churn LWPs, seed ")
        .append(r.seed()).append(", outcome <b>").append(r.outcome().json()).append("</b> after ")
        .append(String.format(Locale.ROOT, "%.2f s", r.elapsedS())).append(".</p>\n");
    TrialResult.Counters c = r.totals();
    h.append("<h2>Counters</h2><table><tr><th>packets forwarded</th><th>addresses added</th>")
        .append("<th>deleted</th><th>rt destroys</th><th>ifa destroys</th><th>low-pri xcalls")
        .append("</th><th>high-pri xcalls</th><th>early returns</th><th>panics</th></tr><tr>")
        .append(td(c.packetsForwarded())).append(td(c.addressesAdded()))
        .append(td(c.addressesDeleted())).append(td(c.rtDestroys())).append(td(c.ifaDestroys()))
        .append(td(c.xcLowpri())).append(td(c.xcHighpri())).append(td(c.xcEarlyReturns()))
        .append(td(r.panics())).append("</tr></table>\n");
    TrialResult p = r.firstPanic();
    if (p != null) {
      h.append("<h2 class=\"panic\">Panic</h2><pre>");
      for (String line : PanicReport.lines(p, r.settings().detectors(),
          Catalog.get(r.settings().bug()))) {
        h.append(esc(line)).append('\n');
      }
      h.append("</pre>\n");
    }
    TrialResult hung = r.trials().stream().filter(t -> t.hang() != null).findFirst()
        .orElse(null);
    if (p == null && hung != null) {
      h.append("<h2 class=\"panic\">Hang</h2><pre>").append(esc(hung.hang().headline()))
          .append('\n');
      for (String line : hung.hang().lwps()) {
        h.append("  ").append(esc(line)).append('\n');
      }
      for (String line : hung.hang().cpus()) {
        h.append("  ").append(esc(line)).append('\n');
      }
      for (String line : PanicReport.story(entry)) {
        h.append(esc(line)).append('\n');
      }
      h.append("</pre>\n");
    }
    if (p != null && p.trace() != null) {
      h.append("<h2>The race on the CPUs (trial with seed ").append(p.seed()).append(")</h2>\n")
          .append("<p>Each lane is a CPU; each bar an LWP holding it (grey: threads, orange: ")
          .append("<code>xcall/N</code>, green: softints). The numbers are the steps of the ")
          .append("explanation above.</p>\n")
          .append(swimlane(p, r.settings().cpus()));
    }
    TrialResult shown = p != null ? p : r.trials().isEmpty() ? null : r.trials().get(0);
    if (shown != null && !shown.samples().isEmpty()) {
      List<TrialResult.Sample> s = shown.samples();
      h.append("<h2>Throughput and churn (trial with seed ").append(shown.seed())
          .append(")</h2>\n");
      h.append(line("packets forwarded per second", s.stream().mapToDouble(
          TrialResult.Sample::t).toArray(), s.stream().mapToDouble(
          TrialResult.Sample::forwardedPerS).toArray()));
      h.append(line("address add/delete cycles per second", s.stream().mapToDouble(
          TrialResult.Sample::t).toArray(), s.stream().mapToDouble(
          TrialResult.Sample::churnPerS).toArray()));
    }
    double[] ttp = r.timesToPanic();
    if (ttp.length > 0) {
      h.append("<h2>Time to panic (").append(ttp.length).append(" of ")
          .append(r.trials().size()).append(" trials)</h2>\n<table><tr>");
      Map<String, Double> d = r.panicDistribution();
      for (String k : d.keySet()) {
        h.append("<th>").append(k).append("</th>");
      }
      h.append("</tr><tr>");
      for (double v : d.values()) {
        h.append(String.format(Locale.ROOT, "<td>%.3f s</td>", v));
      }
      h.append("</tr></table>\n").append(bars("seconds to panic, by trial", ttp));
    }
    String json = JsonReport.toJson(r).replace("</", "<\\/");
    h.append("<h2>Summary (JSON)</h2><pre>").append(esc(json)).append("</pre>\n")
        .append("<script type=\"application/json\" id=\"result\">").append(json)
        .append("</script>\n</body></html>\n");
    return h.toString();
  }

  private static final String[] COLOURS = {"#95a5a6", "#e67e22", "#27ae60"};

  /**
   * The last moments before the panic as an inline SVG: a lane per CPU with the LWPs that held
   * it, the early-returned ticket's dispatch, the destroys, the early return, the dead-frame
   * read and the panic marked with the explanation's step numbers, and a time axis in ms.
   * The window runs from the early-returned ticket's dispatch (or 2 ms before the panic) to
   * the panic.
   */
  static String swimlane(TrialResult p, int ncpu) {
    List<Trace.Event> trace = p.trace();
    long end = p.panic().elapsedNanos();
    long ticket = -1;
    for (Trace.Event e : trace) {
      if (e.kind().equals("xc_early_return")) {
        ticket = e.a();
      }
    }
    long dispatchAt = end - 2_000_000;
    for (Trace.Event e : trace) {
      if (e.kind().equals("xc_dispatch") && e.a() == ticket) {
        dispatchAt = e.nanos();
      }
    }
    long start = dispatchAt;
    long span = Math.max(1, end - start);
    start -= span / 10;
    end += span / 20;
    span = end - start;
    int l = 70;
    int w = 900;
    int laneH = 34;
    int top = 40;
    int hgt = top + ncpu * laneH + 50;
    final long t0 = start;
    final double scale = (w - l - 10) / (double) span;
    StringBuilder s = new StringBuilder();
    s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"swimlane\" width=\"").append(w)
        .append("\" height=\"").append(hgt).append("\" role=\"img\"><title>CPU lanes before ")
        .append("the panic</title>");
    s.append("<text x=\"").append(l).append("\" y=\"16\" font-size=\"13\">LWPs on each CPU, ")
        .append("time since boot (ms)</text>");
    for (int c = 0; c < ncpu; c++) {
      int y = top + c * laneH;
      s.append("<g class=\"lane\" data-cpu=\"").append(c).append("\"><text x=\"").append(l - 8)
          .append("\" y=\"").append(y + laneH / 2 + 4).append("\" font-size=\"12\" ")
          .append("text-anchor=\"end\">cpu").append(c).append("</text><line x1=\"").append(l)
          .append("\" y1=\"").append(y + laneH).append("\" x2=\"").append(w - 10)
          .append("\" y2=\"").append(y + laneH).append("\" stroke=\"#eee\"/></g>");
    }
    List<CpuSlices.Slice> slices = CpuSlices.of(trace, ncpu);
    CpuSlices.Slice preempted = null;
    String prevCat = "";
    for (CpuSlices.Slice sl : slices) {
      if (sl.cpu() != p.panic().cpu()) {
        continue;
      }
      String cat = CpuSlices.category(p.lwpNames().getOrDefault(sl.lwp(), ""));
      if (preempted == null && sl.from() >= dispatchAt && cat.equals("softint")
          && prevCat.equals("xcall")) {
        preempted = sl;
      }
      prevCat = cat;
    }
    for (CpuSlices.Slice sl : slices) {
      long a = Math.max(sl.from(), start);
      long b = Math.min(sl.to(), end);
      if (b <= a) {
        continue;
      }
      String name = p.lwpNames().getOrDefault(sl.lwp(), "lwp" + sl.lwp());
      String cat = CpuSlices.category(name);
      double x = l + (a - t0) * scale;
      double bw = Math.max(1, (b - a) * scale);
      int y = top + sl.cpu() * laneH + 4;
      s.append(String.format(Locale.ROOT, "<rect class=\"%s\" x=\"%.1f\" y=\"%d\" "
          + "width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s on cpu%d</title></rect>",
          cat, x, y, bw, laneH - 8, COLOURS[cat.equals("xcall") ? 1 : cat.equals("softint") ? 2
          : 0], esc(name), sl.cpu()));
      if (bw > 7 * name.length()) {
        s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
            + "fill=\"#fff\">%s</text>", x + 3, y + laneH / 2 + 1, esc(name)));
      }
    }
    if (preempted != null) {
      s.append(mark("softint_preempts_xcall", l + (preempted.from() - t0) * scale,
          top + preempted.cpu() * laneH, laneH, "#1e8449", "2"));
    }
    int step = 0;
    boolean dispatched = false;
    for (Trace.Event e : trace) {
      if (e.nanos() < start || e.nanos() > end) {
        continue;
      }
      String k = e.kind();
      String label = null;
      String colour = "#333";
      if (k.equals("xc_dispatch") && e.a() == ticket && !dispatched) {
        label = "1";
        dispatched = true;
      } else if (k.equals("xc_dispatch") && dispatched && e.a() > ticket && step < 3) {
        label = "3";
        colour = "#555";
      } else if (k.equals("xc_early_return")) {
        label = "4";
        colour = "#c0392b";
      } else if (k.equals("psref_dead_frame_read")) {
        label = "5";
        colour = "#8e44ad";
      } else if (k.equals("panic")) {
        label = "panic";
        colour = "#000";
      } else if (k.equals("psref_destroy_start") || k.equals("psref_destroy_end")) {
        double x = l + (e.nanos() - t0) * scale;
        int y = top + e.cpu() * laneH;
        s.append(String.format(Locale.ROOT, "<path class=\"destroy\" d=\"M%.1f %d l4 -7 l-8 0 z\" "
            + "fill=\"#2c3e50\"><title>%s</title></path>", x, y + 3, k));
        continue;
      } else {
        continue;
      }
      if (label.equals("3")) {
        step = 3;
      }
      s.append(mark(k, l + (e.nanos() - t0) * scale, top + e.cpu() * laneH, laneH, colour,
          label.equals("panic") ? "!" : label));
    }
    int axisY = top + ncpu * laneH + 14;
    s.append("<line x1=\"").append(l).append("\" y1=\"").append(axisY - 10).append("\" x2=\"")
        .append(w - 10).append("\" y2=\"").append(axisY - 10).append("\" stroke=\"#333\"/>");
    for (int i = 0; i <= 5; i++) {
      long t = start + span * i / 5;
      double x = l + (t - t0) * scale;
      s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
          + "stroke=\"#333\"/><text class=\"tick\" x=\"%.1f\" y=\"%d\" font-size=\"11\" "
          + "text-anchor=\"%s\">%.3f ms</text>", x, axisY - 10, x, axisY - 5, x, axisY + 6,
          i == 0 ? "start" : i == 5 ? "end" : "middle", t / 1e6));
    }
    return s.append("</svg>\n").toString();
  }

  /** A numbered mark on a lane: a line across it and a circled label above. */
  private static String mark(String kind, double x, int y, int laneH, String colour,
      String label) {
    return String.format(Locale.ROOT, "<g class=\"mark\" data-kind=\"%s\"><line x1=\"%.1f\" "
        + "y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/><circle "
        + "cx=\"%.1f\" cy=\"%d\" r=\"7\" fill=\"%s\"/><text x=\"%.1f\" y=\"%d\" "
        + "font-size=\"10\" fill=\"#fff\" text-anchor=\"middle\">%s</text><title>%s</title></g>",
        kind, x, y, x, y + laneH, colour, x, y - 6, colour, x, y - 3, label, esc(kind));
  }

  private static String td(long v) {
    return "<td>" + v + "</td>";
  }

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }

  /** A line chart, 640x200, with 4 y ticks at "nice" values. */
  static String line(String title, double[] xs, double[] ys) {
    int w = 640;
    int hgt = 200;
    int l = 60;
    int b = 30;
    double xmax = Math.max(1e-9, max(xs));
    double ymax = nice(Math.max(1e-9, max(ys)));
    StringBuilder s = new StringBuilder();
    s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(w + 20)
        .append("\" height=\"").append(hgt + 50).append("\" role=\"img\"><title>")
        .append(esc(title)).append("</title>");
    s.append("<text x=\"").append(l).append("\" y=\"14\" font-size=\"13\">").append(esc(title))
        .append("</text>");
    for (int i = 0; i <= 4; i++) {
      double v = ymax * i / 4;
      int y = 20 + hgt - b - (int) ((hgt - b - 10) * i / 4.0);
      s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
          + "stroke=\"#ddd\"/><text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%s"
          + "</text>", l, y, w, y, l - 4, y + 4, StatusLine.human(v)));
    }
    StringBuilder pts = new StringBuilder();
    for (int i = 0; i < xs.length; i++) {
      double x = l + (w - l) * xs[i] / xmax;
      double y = 20 + hgt - b - (hgt - b - 10) * ys[i] / ymax;
      pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
    }
    s.append("<polyline fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"1.5\" points=\"")
        .append(pts).append("\"/>");
    for (int i = 0; i <= 4; i++) {
      double x = l + (w - l) * i / 4.0;
      s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
          + "stroke=\"#333\"/><text class=\"tick\" x=\"%.1f\" y=\"%d\" font-size=\"11\" "
          + "text-anchor=\"%s\">%s s</text>", x, hgt - 10, x, hgt - 5, x, hgt + 8,
          i == 0 ? "start" : i == 4 ? "end" : "middle",
          String.format(Locale.ROOT, xmax < 1 ? "%.3f" : xmax < 10 ? "%.2f" : "%.1f",
              xmax * i / 4)));
    }
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
        + "text-anchor=\"middle\">time since the trial began (s)</text>", (l + w) / 2, hgt + 22));
    return s.append("</svg>\n").toString();
  }

  /** A bar chart of values (one bar each). */
  static String bars(String title, double[] vs) {
    int w = 640;
    int hgt = 160;
    int l = 60;
    double ymax = nice(Math.max(1e-9, max(vs)));
    StringBuilder s = new StringBuilder();
    s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(w + 20)
        .append("\" height=\"").append(hgt + 26).append("\" role=\"img\"><title>")
        .append(esc(title)).append("</title><text x=\"").append(l)
        .append("\" y=\"14\" font-size=\"13\">").append(esc(title)).append("</text>");
    double bw = (w - l) / (double) vs.length;
    for (int i = 0; i < vs.length; i++) {
      double bh = (hgt - 30) * vs[i] / ymax;
      s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
          + "height=\"%.1f\" fill=\"#c0392b\"/>", l + i * bw + 1, 20 + (hgt - 30) - bh,
          Math.max(1, bw - 2), bh));
    }
    for (int i = 0; i <= 4; i++) {
      double v = ymax * i / 4;
      double y = 20 + (hgt - 30) - (hgt - 30) * i / 4.0;
      s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
          + "stroke=\"#ddd\"/><text class=\"tick\" x=\"%d\" y=\"%.1f\" font-size=\"11\" "
          + "text-anchor=\"end\">%.2f s</text>", l, y, w, y, l - 4, y + 4, v));
    }
    int every = Math.max(1, (int) Math.ceil(vs.length / 20.0));
    for (int i = 0; i < vs.length; i += every) {
      s.append(String.format(Locale.ROOT, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" "
          + "font-size=\"10\" text-anchor=\"middle\">%d</text>", l + i * bw + bw / 2, hgt + 4,
          i + 1));
    }
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
        + "text-anchor=\"middle\">trial</text>", (l + w) / 2, hgt + 18));
    return s.append("</svg>\n").toString();
  }

  private static double max(double[] a) {
    double m = 0;
    for (double v : a) {
      m = Math.max(m, v);
    }
    return m;
  }

  /** The smallest 1/2/5 × 10^k at or above v. */
  static double nice(double v) {
    double e = Math.pow(10, Math.floor(Math.log10(v)));
    for (double f : new double[] {1, 2, 5, 10}) {
      if (f * e >= v) {
        return f * e;
      }
    }
    return 10 * e;
  }
}
