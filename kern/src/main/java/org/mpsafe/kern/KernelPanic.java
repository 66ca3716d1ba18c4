package org.mpsafe.kern;

/**
 * Thrown in the thread that panicked, after the panic has been recorded and every CPU stopped.
 * An {@link Error}, so that kernel code (which has no exception handling of its own) unwinds to
 * the LWP's top and the LWP exits; whoever runs the machine reads {@link Machine#panic()}.
 */
public final class KernelPanic extends Error {
  private final transient Panic panic;

  KernelPanic(Panic panic) {
    super("panic: " + panic.message(), null, false, true);
    this.panic = panic;
  }

  public Panic panic() {
    return panic;
  }
}
