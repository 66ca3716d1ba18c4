package org.mpsafe.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

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
    h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<title>mpsafe repro: PR kern/51632</title><style>")
        .append("body{font-family:sans-serif;margin:2em;max-width:72em;color:#222}")
        .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;")
        .append("text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:1em;")
        .append("overflow-x:auto;font-size:85%}.panic{color:#a00}")
        .append("</style></head><body>\n");
    h.append("<h1>mpsafe repro — PR kern/51632</h1>\n<p>xcall accounting <b>")
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
      for (String line : PanicReport.lines(p, r.settings().detectors())) {
        h.append(esc(line)).append('\n');
      }
      h.append("</pre>\n");
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
        .append("\" height=\"").append(hgt + 40).append("\" role=\"img\"><title>")
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
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">0 s</text>"
        + "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.1f s</text>", l,
        hgt + 8, w, hgt + 8, xmax));
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
        .append("\" height=\"").append(hgt + 30).append("\" role=\"img\"><title>")
        .append(esc(title)).append("</title><text x=\"").append(l)
        .append("\" y=\"14\" font-size=\"13\">").append(esc(title)).append("</text>");
    double bw = (w - l) / (double) vs.length;
    for (int i = 0; i < vs.length; i++) {
      double bh = (hgt - 30) * vs[i] / ymax;
      s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
          + "height=\"%.1f\" fill=\"#c0392b\"/>", l + i * bw + 1, 20 + (hgt - 30) - bh,
          Math.max(1, bw - 2), bh));
    }
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
        + "text-anchor=\"end\">%.2f s</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
        + "text-anchor=\"end\">0</text>", l - 4, 24, ymax, l - 4, hgt - 10));
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
