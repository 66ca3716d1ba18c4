package org.mpsafe.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code mpsafe}: the stress CLI. {@code mpsafe repro} reproduces NetBSD PR kern/51632 (see
 * {@link ReproCommand}); the launcher script {@code ./mpsafe} builds the jar and runs this.
 */
@Command(name = "mpsafe", mixinStandardHelpOptions = true,
    versionProvider = MpsafeCli.Version.class,
    description = "NetBSD's MP-safe xcall/psref/route machinery on virtual CPUs.",
    subcommands = {CommandLine.HelpCommand.class})
public final class MpsafeCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(),
        "Missing command: try 'mpsafe repro', 'mpsafe list', 'mpsafe replay', 'mpsafe sweep' or 'mpsafe --help'");
  }

  /** The version from the build. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties p = new Properties();
      try (InputStream in = MpsafeCli.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      }
      return new String[] {"mpsafe " + p.getProperty("version", "dev")
          + " (PR kern/51632 reproduction; Java " + System.getProperty("java.version") + ")"};
    }
  }

  /** Builds the command line with its one-line usage errors and exit codes. */
  static CommandLine commandLine(PrintStream out, PrintStream err,
      ReproCommand.Interrupt interrupt) {
    CommandLine cl = new CommandLine(new MpsafeCli());
    cl.addSubcommand("repro", new ReproCommand(out, err, interrupt));
    cl.addSubcommand("replay", new ReplayCommand(out));
    cl.addSubcommand("list", new ListCommand(out));
    cl.addSubcommand("sweep", new SweepCommand(out, err, interrupt));
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setParameterExceptionHandler((ex, args) -> {
      err.println("mpsafe: " + ex.getMessage());
      return 2;
    });
    cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
      if (ex instanceof CommandLine.ParameterException pe) {
        err.println("mpsafe: " + pe.getMessage());
        return 2;
      }
      err.println("mpsafe: internal error: " + ex);
      ex.printStackTrace(err);
      return 4;
    });
    return cl;
  }

  /** Runs the CLI and returns its exit code (does not exit). */
  static int execute(PrintStream out, PrintStream err, String... args) {
    return commandLine(out, err, new ReproCommand.Interrupt()).execute(args);
  }

  public static void main(String[] args) {
    ReproCommand.Interrupt interrupt = new ReproCommand.Interrupt();
    Thread hook = new Thread(() -> {
      interrupt.requested = true;
      ReproCommand.awaitReport(interrupt);
    }, "mpsafe-sigint");
    Runtime.getRuntime().addShutdownHook(hook);
    int rc = commandLine(System.out, System.err, interrupt).execute(args);
    System.out.flush();
    if (!interrupt.requested) {
      Runtime.getRuntime().removeShutdownHook(hook);
      System.exit(rc);
    }
  }
}
