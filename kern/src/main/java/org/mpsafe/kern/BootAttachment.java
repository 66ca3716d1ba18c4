package org.mpsafe.kern;

import java.util.List;
import java.util.ServiceLoader;

/**
 * A subsystem that attaches to every machine at boot, as NetBSD attaches its per-CPU state when
 * a CPU attaches ({@code mi_cpu_attach()} calls {@code xc_init_cpu()}, {@code softint_init()},
 * ...). A module provides one through {@link ServiceLoader}
 * ({@code META-INF/services/org.mpsafe.kern.BootAttachment}); {@link Machine#boot} runs every
 * one on the class path, in the booting thread, after the CPUs and their softint LWPs are up
 * and before it returns, so a subsystem's service threads exist before any code can use it.
 */
public interface BootAttachment {
  /**
   * Attaches to {@code m}: typically builds the subsystem's state, registers it with
   * {@link Machine#attachSubsystem} and starts its kthreads. A throw fails the boot.
   */
  void attach(Machine m);

  /** Every attachment on the class path, loaded once. */
  final class Loaded {
    private Loaded() {}

    static final List<BootAttachment> ALL = List.copyOf(
        ServiceLoader.load(BootAttachment.class, BootAttachment.class.getClassLoader()).stream()
            .map(ServiceLoader.Provider::get).toList());
  }
}
