package org.mpsafe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code list}: the catalog of races, one line each, or as JSON. */
@Command(name = "list", mixinStandardHelpOptions = true,
    versionProvider = MpsafeCli.Version.class,
    description = "List the NetBSD MP races mpsafe reproduces (run one with 'mpsafe repro "
        + "--bug ID --variant buggy|fixed').")
final class ListCommand implements Callable<Integer> {
  @Option(names = "--json", description = "Print the catalog as JSON.")
  boolean json;

  private final PrintStream out;

  ListCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() throws Exception {
    if (json) {
      out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(Catalog.ENTRIES.stream().map(Catalog.Entry::json).toList()));
      return 0;
    }
    for (Catalog.Entry e : Catalog.ENTRIES) {
      out.println(e.id() + "  " + e.title() + "  [" + e.files() + "]  " + e.outcome() + ": " + e.symptom()
          + "  fix: " + e.fix() + "  (" + e.doc() + ")");
    }
    return 0;
  }
}
