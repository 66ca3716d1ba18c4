package org.mpsafe.concurrency;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Gets class initialization out of the way before Fray takes control.
 *
 * <p>Fray does not model the JVM's class-initialization lock. If it pauses a thread inside a
 * static initializer and runs another thread that needs the same class, the second thread
 * blocks in the JVM where Fray cannot see it and the exploration hangs (seen with a JFR event
 * class initialized by two xcall threads at once). Initialization order also changes the
 * number of scheduling points in an iteration, so an iteration replayed in a fresh JVM could
 * take another path than the one recorded. So every exploration first initializes every class
 * of the modules under test, then runs the scenario once without Fray (warming the JDK's lazily
 * linked call sites too); all iterations then see the same, warm JVM.
 */
final class Warmup {
  private Warmup() {}

  private static final Set<String> DONE = new HashSet<>();

  /** Loads and initializes every class in the jars or directories holding {@code anchors}. */
  static synchronized void initializeClassesOf(Class<?>... anchors) {
    for (Class<?> a : anchors) {
      Path where;
      try {
        where = Path.of(a.getProtectionDomain().getCodeSource().getLocation().toURI());
      } catch (URISyntaxException e) {
        throw new IllegalStateException(e);
      }
      if (!DONE.add(where.toString())) {
        continue;
      }
      for (String name : classNames(where)) {
        try {
          Class.forName(name, true, a.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
          throw new IllegalStateException("cannot initialize " + name + " before exploring", e);
        }
      }
    }
  }

  private static List<String> classNames(Path where) {
    List<String> out = new ArrayList<>();
    try {
      if (Files.isDirectory(where)) {
        try (Stream<Path> s = Files.walk(where)) {
          s.filter(p -> p.toString().endsWith(".class"))
              .map(p -> where.relativize(p).toString())
              .forEach(n -> add(out, n));
        }
      } else {
        try (JarFile jar = new JarFile(where.toFile())) {
          for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
            add(out, e.nextElement().getName());
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  private static void add(List<String> out, String file) {
    if (file.endsWith(".class") && !file.endsWith("module-info.class")
        && !file.endsWith("package-info.class")) {
      out.add(file.substring(0, file.length() - ".class".length()).replace('/', '.')
          .replace('\\', '.'));
    }
  }
}
