package org.mpsafe.cli;

import com.google.common.hash.Hashing;
import com.google.common.io.Files;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;

/**
 * Which build is running: the first 16 hex digits of the SHA-256 of the CLI's jar, or
 * {@code dev} when it runs from class folders (tests, an IDE). A recorded deterministic trial
 * replays only on the build that recorded it: another build may schedule differently.
 */
final class BuildId {
  private BuildId() {}

  private static volatile String id;

  static String get() {
    String v = id;
    if (v == null) {
      v = compute();
      id = v;
    }
    return v;
  }

  private static String compute() {
    try {
      File f = new File(BuildId.class.getProtectionDomain().getCodeSource().getLocation()
          .toURI());
      if (!f.isFile()) {
        return "dev";
      }
      return Files.asByteSource(f).hash(Hashing.sha256()).toString().substring(0, 16);
    } catch (IOException | URISyntaxException | SecurityException | NullPointerException e) {
      return "unknown";
    }
  }
}
