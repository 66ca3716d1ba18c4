package org.mpsafe.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mpsafe.kern.Machine;
import org.mpsafe.psref.Psrefs;
import org.mpsafe.xcall.Xcall;

/**
 * The precondition of the module, as a test of its own: the tests run on Fray's instrumented
 * JDK 25 (not silently on some other JVM), while the classes under test are release 17.
 */
class FrayJvmTest {
  @Test
  void testsRunOnFraysInstrumentedJdk25() {
    FrayJvm.require();
    assertTrue(FrayJvm.active());
    assertEquals(25, Runtime.version().feature());
  }

  @Test
  void classesUnderTestAreRelease17() throws Exception {
    for (Class<?> c : new Class<?>[] {Machine.class,
        Xcall.class, Psrefs.class, FrayJvmTest.class}) {
      try (var in = c.getResourceAsStream(c.getSimpleName() + ".class")) {
        byte[] head = in.readNBytes(8);
        int major = ((head[6] & 0xff) << 8) | (head[7] & 0xff);
        assertEquals(61, major, c + " class file major version (61 = Java 17)");
      }
    }
  }
}
