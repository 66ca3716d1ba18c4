package org.mpsafe.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.mpsafe.kern.Kaddr;
import org.mpsafe.kern.Panic;
import org.mpsafe.kern.Trace;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.psref.UseAfterReturn;
import org.mpsafe.xcall.EarlyReturn;

/**
 * Turns a panicked {@link TrialResult} into what an engineer reads: the NetBSD panic text, where
 * it happened, the root cause the detectors found, the chain of events that led there, and the
 * last trace events of the CPUs involved.
 */
final class PanicReport {
  private static final int TIMELINE = 30;

  private PanicReport() {}

  /**
   * The fatal dead-frame read: the last one on the panicking CPU (earlier reads may have been
   * harmless, when the late callback ran before the frame was reused), or null.
   */
  static UseAfterReturn fatalRead(TrialResult r) {
    UseAfterReturn f = null;
    for (UseAfterReturn u : r.deadFrameReads()) {
      if (r.panic() != null && u.cpu() == r.panic().cpu()) {
        f = u;
      }
    }
    return f;
  }

  /** The early return of the fatal read's ticket, or null. */
  static EarlyReturn fatalReturn(TrialResult r, UseAfterReturn u) {
    return u == null ? null : r.earlyReturns().stream().filter(x -> x.ticket() == u.ticket())
        .findFirst().orElse(null);
  }

  /**
   * The cause line(s): the early xc_wait return and the dead-frame read that led to the panic,
   * then how many other (harmless) ones the detectors saw.
   */
  static List<String> cause(TrialResult r) {
    List<String> out = new ArrayList<>();
    UseAfterReturn u = fatalRead(r);
    EarlyReturn e = fatalReturn(r, u);
    if (e != null) {
      out.add("early return: " + e.describe());
    }
    if (u != null) {
      out.add("dead frame:   " + u.describe());
    }
    int otherE = r.earlyReturns().size() - (e == null ? 0 : 1);
    int otherU = r.deadFrameReads().size() - (u == null ? 0 : 1);
    if (out.isEmpty()) {
      for (EarlyReturn x : first(r.earlyReturns(), 3)) {
        out.add("early return: " + x.describe());
      }
      otherE = Math.max(0, r.earlyReturns().size() - 3);
    }
    if (otherE > 0 || otherU > 0) {
      out.add("(before that: " + otherE + " other early return(s) and " + otherU
          + " dead-frame read(s) whose late callback did not trip an assertion)");
    }
    return out;
  }

  /** One-line cause for JSON and the summary. */
  static String causeLine(TrialResult r) {
    List<String> c = cause(r);
    return c.isEmpty() ? "" : String.join("; ", c);
  }

  /**
   * What goes wrong in {@code entry}, in numbered steps, and its fix: printed under a panic or a
   * hang of every entry but kern-51632 (whose steps come from the detectors).
   */
  static List<String> story(Catalog.Entry entry) {
    if (entry.story().isEmpty()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    out.add("");
    out.add("what happened (" + entry.id() + ", " + entry.doc() + "):");
    for (int i = 0; i < entry.story().size(); i++) {
      out.add("  " + (i + 1) + ". " + entry.story().get(i));
    }
    out.add("  fix: --variant fixed (" + entry.fix() + ")");
    return out;
  }

  static List<String> lines(TrialResult r, boolean detectors, Catalog.Entry entry) {
    Panic p = r.panic();
    List<String> out = new ArrayList<>();
    out.add(p.headline());
    out.add(String.format(Locale.ROOT, "  on cpu%d, lwp %s, %.3f s after boot (seed %d)",
        p.cpu(), p.lwp(), p.elapsedNanos() / 1e9, r.seed()));
    if (!entry.story().isEmpty()) {
      out.addAll(story(entry));
      out.add("");
      out.addAll(timeline(r));
      return out;
    }
    out.add("");
    out.add("cause (found by the detectors):");
    List<String> cause = cause(r);
    if (!detectors) {
      out.add("  detectors off (--no-detectors): only the panic itself is known");
    } else if (cause.isEmpty()) {
      out.add("  none recorded: the panic is not the PR kern/51632 race");
    } else {
      for (String c : cause) {
        out.add("  " + c);
      }
    }
    UseAfterReturn u = fatalRead(r);
    EarlyReturn e = fatalReturn(r, u);
    if (e != null) {
      out.add("");
      out.add("what happened (PR kern/51632):");
      out.add("  1. " + u.frameOwner() + " ran psref_target_destroy -> psreffed_p, which put its"
          + " frame P on its stack and broadcast a low-priority xcall (ticket " + u.ticket() + ")");
      out.add("  2. xcall/" + u.cpu() + " took the job and counted it in xc_tailp *before* calling"
          + " psreffed_p_xc; then it lost its CPU (softnet preempted it)");
      out.add("  3. all CPUs had \"started\" the job (xc_headp == xc_tailp), so a second destroyer"
          + " was admitted; its callbacks raised the shared xc_donep");
      out.add("  4. xc_donep reached ticket " + e.ticket() + ": xc_wait returned in " + e.waiter()
          + " while cpu" + e.running() + " still owed the callback; psreffed_p returned (P died)"
          + " and psref_target_destroy set prt_class = NULL");
      out.add("  5. xcall/" + u.cpu() + " resumed and read the dead P: P->class = "
          + u.classWord() + ", target->prt_class = 0x0 -> _psref_held's KASSERT");
      out.addAll(deadWordNote(p.message()));
      out.add("  fix: --xcall fixed (the PR's diff: admit and wake on xc_donep, drop xc_tailp)");
    }
    out.add("");
    out.addAll(timeline(r));
    return out;
  }

  /**
   * What the class word in the panic message is. {@code 0x2} is not a measured value: the port
   * writes it into the dead {@code P.class} slot on purpose ({@link Psrefs#DEAD_FRAME_WORD}) to
   * stand for what the destroyer's next call leaves there in C, and chose it because it is the
   * word the PR's panic shows. Any other word is the class itself: the late callback read the
   * slot before it was reused, and the same KASSERT fails on the destroyed target's NULL class.
   * Read from the message, not the detector's record: the detector and the KASSERT load the
   * slot separately, and the reuse may fall between the two loads.
   */
  static List<String> deadWordNote(String panicMessage) {
    if (!panicMessage.contains("mismatched psref target class: ")) {
      return List.of();
    }
    if (panicMessage.endsWith("!= " + DEAD_FRAME_WORD + " (expected)")) {
      return List.of("     (0x2 is not measured: the port writes it into the dead P.class slot on"
          + " purpose, standing for what the destroyer's next call leaves there in C; it is the"
          + " word PR kern/51632's panic shows)");
    }
    return List.of("     (P->class still held the class: the slot had not been reused yet; the"
        + " destroyed target's prt_class = NULL alone fails the KASSERT)");
  }

  /** The word the port stores in the dead P.class slot, as %p prints it ("0x2"). */
  static final String DEAD_FRAME_WORD = Kaddr.format(Psrefs.DEAD_FRAME_WORD);

  /** The last trace events (softint runs folded) of the CPUs involved, oldest first. */
  static List<String> timeline(TrialResult r) {
    Panic p = r.panic();
    Set<Integer> cpus = new TreeSet<>();
    cpus.add(p.cpu());
    for (Trace.Event e : p.trace()) {
      if (e.kind().equals("xc_early_return") || e.kind().equals("psref_dead_frame_read")) {
        cpus.add(e.cpu());
      }
    }
    List<Trace.Event> ev = new ArrayList<>();
    int softints = 0;
    int switches = 0;
    for (Trace.Event e : p.trace()) {
      if (cpus.contains(e.cpu())) {
        if (e.kind().equals("softint")) {
          softints++;
        } else if (e.kind().equals("sched_switch")) {
          switches++;
        } else {
          ev.add(e);
        }
      }
    }
    List<String> out = new ArrayList<>();
    out.add("last events on cpu" + cpus + " (time since boot; " + softints
        + " softint runs" + (switches > 0 ? " and " + switches + " CPU hand-overs" : "")
        + " not shown):");
    int from = Math.max(0, ev.size() - TIMELINE);
    for (Trace.Event e : ev.subList(from, ev.size())) {
      out.add(String.format(Locale.ROOT, "  %10.3f ms  cpu%-2d %-12s %-22s %s", e.nanos() / 1e6,
          e.cpu(), r.lwpNames().getOrDefault(e.lwp(), "lwp" + e.lwp()), e.kind(), args(e)));
    }
    return out;
  }

  static String args(Trace.Event e) {
    switch (e.kind()) {
      case "xc_dispatch":
        return "ticket=" + e.a() + " cpus=" + mask(e.b());
      case "xc_callback_start":
      case "xc_callback_end":
        return "xc_headp=" + e.a() + " job=" + e.b();
      case "xc_wait_return":
        return "ticket=" + e.a() + " xc_donep=" + e.b();
      case "xc_early_return":
        return "ticket=" + e.a() + " still running on cpu" + mask(e.b());
      case "psref_destroy_start":
      case "psref_destroy_end":
        return "target=0x" + Long.toHexString(e.a()) + " class=0x" + Long.toHexString(e.b());
      case "psref_dead_frame_read":
        return "ticket=" + e.a() + " P=0x" + Long.toHexString(e.b());
      default:
        return e.a() == 0 && e.b() == 0 ? "" : e.a() + " " + e.b();
    }
  }

  private static String mask(long m) {
    List<Integer> l = new ArrayList<>();
    for (long x = m; x != 0; x &= x - 1) {
      l.add(Long.numberOfTrailingZeros(x));
    }
    return l.toString();
  }

  private static <T> List<T> first(List<T> l, int n) {
    return l.subList(0, Math.min(n, l.size()));
  }
}
