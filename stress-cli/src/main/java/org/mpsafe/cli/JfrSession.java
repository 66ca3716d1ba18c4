package org.mpsafe.cli;

import java.io.IOException;
import java.nio.file.Path;
import jdk.jfr.Recording;

/** {@code --jfr FILE}: an in-process JFR recording of mpsafe's events (category "mpsafe"). */
final class JfrSession {
  private final Recording recording;
  private final Path file;

  private JfrSession(Recording r, Path file) {
    this.recording = r;
    this.file = file;
  }

  static JfrSession start(Path file) {
    Recording r = new Recording();
    r.setName("mpsafe");
    for (String e : new String[] {"mpsafe.xcall.Job", "mpsafe.xcall.Callback",
        "mpsafe.xcall.WaitReturn", "mpsafe.xcall.EarlyReturn", "mpsafe.psref.Destroy",
        "mpsafe.psref.DeadFrameRead", "mpsafe.net.AddressChange", "mpsafe.kern.Panic"}) {
      r.enable(e).withoutThreshold().withStackTrace();
    }
    r.start();
    return new JfrSession(r, file);
  }

  void stop() throws IOException {
    recording.stop();
    recording.dump(file);
    recording.close();
  }
}
