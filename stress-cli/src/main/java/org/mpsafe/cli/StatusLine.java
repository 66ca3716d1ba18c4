package org.mpsafe.cli;

import java.io.Console;
import java.io.PrintStream;
import java.util.Locale;

/**
 * The live status on stderr: rewritten in place on a terminal, a plain line every
 * {@code plainEveryS} seconds otherwise (CI logs). Silent with --quiet.
 */
final class StatusLine implements TrialRunner.Progress {
  private final PrintStream err;
  private final boolean tty;
  private final boolean quiet;
  private final double plainEveryS;
  private final double durationS;
  private double lastPlain = -1;
  private int trial = 1;
  private int panics;
  private boolean drawn;
  private String clock = "s";

  StatusLine(PrintStream err, boolean tty, boolean quiet, double plainEveryS, double durationS) {
    this.err = err;
    this.tty = tty;
    this.quiet = quiet;
    this.plainEveryS = plainEveryS;
    this.durationS = durationS;
  }

  /** Times are virtual (the deterministic machine): say so on the line. */
  void virtual() {
    clock = "s virtual";
  }

  void trial(int n, int panicsSoFar) {
    this.trial = n;
    this.panics = panicsSoFar;
    this.lastPlain = -1;
  }

  @Override
  public void update(double t, TrialResult.Counters c, double fwdPerS) {
    if (quiet) {
      return;
    }
    String line = String.format(Locale.ROOT,
        "[trial %d %6.1fs/%.0f%s] fwd %s/s  addr +%d -%d  destroys rt %d ifa %d  "
            + "xcall lo %d hi %d  early %d  panics %d",
        trial, t, durationS, clock, human(fwdPerS), c.addressesAdded(), c.addressesDeleted(),
        c.rtDestroys(), c.ifaDestroys(), c.xcLowpri(), c.xcHighpri(), c.xcEarlyReturns(),
        panics);
    if (tty) {
      err.print("\r" + line + "\033[K");
      err.flush();
      drawn = true;
    } else if (lastPlain < 0 || t - lastPlain >= plainEveryS) {
      err.println(line);
      lastPlain = t;
    }
  }

  /** Clears the in-place line before other output. */
  void clear() {
    if (drawn) {
      err.print("\r\033[K");
      err.flush();
      drawn = false;
    }
  }

  static String human(double v) {
    if (v >= 1e6) {
      return String.format(Locale.ROOT, "%.2fM", v / 1e6);
    }
    if (v >= 1e3) {
      return String.format(Locale.ROOT, "%.1fk", v / 1e3);
    }
    return String.format(Locale.ROOT, "%.0f", v);
  }

  /** True when stderr/stdout is an interactive terminal. */
  static boolean isTerminal() {
    Console c = System.console();
    if (c == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(c);
    } catch (ReflectiveOperationException e) {
      return true;
    }
  }
}
