package org.mpsafe.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --json FILE}: the run summary as JSON (schema {@value RunReport#SCHEMA}). */
final class JsonReport {
  private static final ObjectMapper MAPPER =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private JsonReport() {}

  static String toJson(RunReport r) throws IOException {
    return MAPPER.writeValueAsString(r.toJson());
  }

  static void write(RunReport r, Path file) throws IOException {
    Files.writeString(file, toJson(r) + "\n");
  }
}
