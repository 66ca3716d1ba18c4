package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class DurationConverterTest {
  private final DurationConverter c = new DurationConverter();

  @ParameterizedTest
  @CsvSource({"500ms,500", "30s,30000", "5m,300000", "1h,3600000", "1h30m,5400000",
      "2d,172800000", "90,90000", "PT5M,300000", "1m500ms,60500"})
  void accepts(String in, long millis) {
    assertEquals(Duration.ofMillis(millis), c.convert(in));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "abc", "5x", "-5m", "1.5m", "5 m", "0", "0s", "m5", "PTX"})
  void rejects(String in) {
    assertThrows(CommandLine.TypeConversionException.class, () -> c.convert(in));
  }
}
