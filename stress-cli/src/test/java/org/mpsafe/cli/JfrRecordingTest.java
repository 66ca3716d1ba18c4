package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --jfr FILE}: the recording reads back with {@link RecordingFile} and holds the race's
 * events: low-priority xcall jobs, the early return, and the panic with the PR's message.
 */
class JfrRecordingTest {
  @TempDir Path dir;

  @Test
  void aLegacyRecordingHoldsTheJobTheEarlyReturnAndThePanic() throws IOException {
    Path jfr = dir.resolve("race.jfr");
    CliTestSupport.Result r = CliTestSupport.run("repro", "--deterministic", "--seed", "13",
        "--duration", "10s", "--quiet", "--jfr", jfr.toString());
    assertEquals(1, r.exit(), r::out);
    List<RecordedEvent> events = RecordingFile.readAllEvents(jfr);
    Map<String, List<RecordedEvent>> byName = events.stream()
        .collect(Collectors.groupingBy(e -> e.getEventType().getName()));
    assertTrue(byName.containsKey("mpsafe.xcall.Job"), () -> byName.keySet().toString());
    assertTrue(byName.containsKey("mpsafe.xcall.EarlyReturn"), () -> byName.keySet().toString());
    List<RecordedEvent> panics = byName.getOrDefault("mpsafe.kern.Panic", List.of());
    assertEquals(1, panics.size(), () -> byName.keySet().toString());
    assertTrue(panics.get(0).getString("message")
        .endsWith("mismatched psref target class: 0x0 (ref) != 0x2 (expected)"),
        () -> panics.get(0).toString());
    assertTrue(panics.get(0).getString("lwp").startsWith("xcall/"), () -> panics.get(0).toString());
  }
}
