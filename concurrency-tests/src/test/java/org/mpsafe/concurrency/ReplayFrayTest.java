package org.mpsafe.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.mpsafe.concurrency.FrayExplorer.Outcome;
import org.mpsafe.xcall.XcallAccounting;

/**
 * Replays failing schedules that Fray found and that are committed under
 * {@code src/test/resources/fray/<name>/} ({@code scheduler}, {@code random.json}: the recorded
 * iteration's random choices; {@code failure.txt}: what it failed with). A replay must fail the
 * same way, message for message. How to record a new one: README.md.
 */
class ReplayFrayTest {
  @Test
  void replayOfLegacyXcallScheduleReturnsEarlyAgain() throws IOException {
    replay("xcall-legacy-seed-1", XcallPr51632FrayTest::warmup,
        () -> XcallTwoRequesters.run(XcallAccounting.LEGACY_TAILP));
  }

  @Test
  void replayOfLegacyPsrefSchedulePanicsAgain() throws IOException {
    replay("psref-legacy-seed-1", PsrefPr51632FrayTest::warmup,
        () -> PsrefParallelDestroy.run(XcallAccounting.LEGACY_TAILP, false));
  }

  private static void replay(String recording, Runnable warmup, Runnable body)
      throws IOException {
    Path dir = resource("fray/" + recording);
    String expected = normalize(Files.readString(dir.resolve(FrayExplorer.FAILURE_FILE)));
    Outcome o = FrayExplorer.replay("replay-" + recording, dir, warmup, body);
    assertNotNull(o.failure(), () -> "the replay of " + recording + " did not fail; expected: "
        + expected);
    assertEquals(expected, normalize(String.valueOf(o.failure().getMessage())),
        () -> "the replay failed differently:\n" + FrayExplorer.allMessages(o.failure()));
  }

  /**
   * Kernel addresses ({@code Kaddr}: 0xffffc000..., 0xffffa000... for stack frames) come from a
   * JVM-wide counter, so they differ between the recording JVM and this one; everything else
   * in the message must match.
   */
  static String normalize(String failure) {
    return failure.trim().replaceAll("0xffff[0-9a-f]{12}", "<kaddr>");
  }

  private static Path resource(String name) {
    URL u = ReplayFrayTest.class.getClassLoader().getResource(name + "/random.json");
    assertNotNull(u, "missing test resource " + name + "/random.json");
    try {
      return Path.of(u.toURI()).getParent();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
