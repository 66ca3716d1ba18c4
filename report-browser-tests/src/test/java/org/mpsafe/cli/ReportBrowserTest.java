package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;

/**
 * The HTML report of a legacy run, opened in a real browser (headless Debian chromium through
 * its chromedriver): the page loads with no console error, the swimlane SVG has a size and a
 * lane per CPU with the race's marks, the panic text is visible, and screenshots are saved
 * under {@code target/}. A missing browser fails the test: it is never skipped.
 */
class ReportBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Path TARGET = Path.of("target");

  private static WebDriver driver;
  private static Path report;

  @BeforeAll
  static void reportAndBrowser() throws Exception {
    assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "Debian's chromium and chromium-driver are needed (apt-get install chromium "
            + "chromium-driver); this test never skips");
    Files.createDirectories(TARGET);
    report = TARGET.resolve("report.html").toAbsolutePath();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int rc = MpsafeCli.execute(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        "repro", "--deterministic", "--seed", "13", "--duration", "10s", "--quiet",
        "--report", report.toString());
    assertEquals(1, rc, out.toString(StandardCharsets.UTF_8));
    ChromeOptions o = new ChromeOptions();
    o.setBinary(CHROMIUM.toFile());
    o.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
        "--disable-gpu", "--window-size=1280,1800");
    o.setCapability("goog:loggingPrefs", Map.of(LogType.BROWSER, "ALL"));
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
    driver = new ChromeDriver(service, o);
    driver.get(report.toUri().toString());
  }

  @AfterAll
  static void quit() {
    if (driver != null) {
      driver.quit();
    }
  }

  @Test
  void pageLoadsWithoutConsoleErrors() {
    assertEquals("mpsafe repro: kern-51632", driver.getTitle());
    List<LogEntry> severe = driver.manage().logs().get(LogType.BROWSER).getAll().stream()
        .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
        .collect(Collectors.toList());
    assertEquals(List.of(), severe);
  }

  @Test
  void swimlaneHasALanePerCpuAndTheRaceMarks() throws Exception {
    WebElement svg = driver.findElement(By.id("swimlane"));
    assertTrue(svg.getSize().getWidth() > 0 && svg.getSize().getHeight() > 0,
        () -> "swimlane size " + svg.getSize());
    assertTrue(svg.isDisplayed());
    assertEquals(4, svg.findElements(By.cssSelector("g.lane")).size());
    assertTrue(svg.findElements(By.cssSelector("rect.xcall")).size() > 0, "no xcall/N bar");
    for (String kind : List.of("xc_early_return", "psref_dead_frame_read", "panic")) {
      assertEquals(1, svg.findElements(By.cssSelector("g.mark[data-kind='" + kind + "']")).size(),
          kind);
    }
    assertTrue(svg.findElements(By.cssSelector("text.tick")).size() >= 6, "no time axis");
    File shot = svg.getScreenshotAs(OutputType.FILE);
    Files.copy(shot.toPath(), TARGET.resolve("swimlane.png"), StandardCopyOption.REPLACE_EXISTING);
    File page = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
    Files.copy(page.toPath(), TARGET.resolve("report.png"), StandardCopyOption.REPLACE_EXISTING);
  }

  @Test
  void panicTextIsVisible() {
    WebElement panic = driver.findElement(By.xpath(
        "//pre[contains(., 'mismatched psref target class: 0x0 (ref) != 0x2 (expected)')]"));
    assertTrue(panic.isDisplayed());
  }

  @Test
  void everyPlotHasTickLabels() {
    for (WebElement svg : driver.findElements(By.tagName("svg"))) {
      assertTrue(svg.findElements(By.cssSelector("text.tick")).size() >= 2,
          () -> "a plot without tick labels: " + svg.getAttribute("outerHTML").substring(0, 120));
    }
  }
}
