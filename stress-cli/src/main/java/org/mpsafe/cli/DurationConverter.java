package org.mpsafe.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Durations as stress tools write them: {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h},
 * {@code 1h30m}, {@code 2d}, a bare number of seconds ({@code 90}), or ISO-8601 ({@code PT5M}).
 * Zero and negative durations are rejected.
 */
final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
  private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  @Override
  public Duration convert(String value) {
    Duration d = parse(value);
    if (d == null || d.isZero() || d.isNegative()) {
      throw new CommandLine.TypeConversionException(
          "'" + value + "' is not a duration (e.g. 500ms, 30s, 5m, 1h, 1h30m)");
    }
    return d;
  }

  static Duration parse(String value) {
    String s = value.trim();
    if (s.isEmpty()) {
      return null;
    }
    if (s.chars().allMatch(Character::isDigit)) {
      return s.length() > 12 ? null : Duration.ofSeconds(Long.parseLong(s));
    }
    if (s.startsWith("P") || s.startsWith("p")) {
      try {
        return Duration.parse(s.toUpperCase(Locale.ROOT));
      } catch (DateTimeParseException e) {
        return null;
      }
    }
    Matcher m = PART.matcher(s);
    Duration total = Duration.ZERO;
    int at = 0;
    while (at < s.length()) {
      if (!m.find(at) || m.start() != at || m.group(1).length() > 9) {
        return null;
      }
      long n = Long.parseLong(m.group(1));
      switch (m.group(2)) {
        case "ms" -> total = total.plusMillis(n);
        case "s" -> total = total.plusSeconds(n);
        case "m" -> total = total.plusMinutes(n);
        case "h" -> total = total.plusHours(n);
        default -> total = total.plusDays(n);
      }
      at = m.end();
    }
    return total;
  }

  /** {@code 1m05.3s}-style rendering for humans. */
  static String format(Duration d) {
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + "ms";
    }
    if (ms < 60_000) {
      return String.format(Locale.ROOT, "%.2fs", ms / 1000.0);
    }
    long s = ms / 1000;
    return s / 3600 > 0 ? String.format("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
        : String.format("%dm%02ds", s / 60, s % 60);
  }
}
