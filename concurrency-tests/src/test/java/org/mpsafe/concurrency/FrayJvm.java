package org.mpsafe.concurrency;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether this JVM is Fray's instrumented JDK 25: the precondition of every test here. */
final class FrayJvm {
  private FrayJvm() {}

  static final String HOW =
      "run this module through Maven (./mvnw -Pconcurrency -pl concurrency-tests -am verify): "
      + "it links the instrumented JDK 25 from /usr/lib/jvm/temurin-25-jdk-amd64 (install "
      + "Eclipse Temurin 25 if it is missing) and runs the tests on it";

  /** {@code java.home/release} has {@code IMPLEMENTOR=Fray} (what Fray itself checks). */
  static boolean active() {
    Path release = Path.of(System.getProperty("java.home"), "release");
    try {
      return Files.exists(release)
          && Files.readAllLines(release).stream().anyMatch(l -> l.contains("IMPLEMENTOR=Fray"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Fails (never skips) unless the tests run on the Fray JDK 25. */
  static void require() {
    if (!active()) {
      throw new AssertionError("not on Fray's instrumented JDK (java.home="
          + System.getProperty("java.home") + ", java.version="
          + System.getProperty("java.version") + "): " + HOW);
    }
    if (Runtime.version().feature() != 25) {
      throw new AssertionError("Fray 0.9.x needs JDK 25, this is " + Runtime.version());
    }
  }
}
