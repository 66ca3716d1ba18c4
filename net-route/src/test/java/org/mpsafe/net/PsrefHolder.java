package org.mpsafe.net;

import static org.awaitility.Awaitility.await;
import static org.mpsafe.net.NetFixture.LIMIT;
import static org.mpsafe.net.NetFixture.ip;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.mpsafe.kern.KGate;
import org.mpsafe.kern.Machine;
import org.mpsafe.kern.Pri;
import org.mpsafe.psref.Psref;

/**
 * A bound LWP on CPU 1 that looks something up with a psref and holds it until
 * {@link #release}d, as ip_forward holds one in the softint. The constructors return once it
 * holds and waits at its gate.
 */
final class PsrefHolder<T> {
  final KGate gate = new KGate();
  final AtomicBoolean holding = new AtomicBoolean();
  final AtomicReference<T> held = new AtomicReference<>();

  /** Holds the route to {@code dst} ({@code rtalloc1_psref}). */
  static PsrefHolder<Rtentry> route(Machine m, NetStack net, String dst) {
    return new PsrefHolder<>(m, ref -> net.rt().rtalloc1Psref(ip(dst), ref),
        (rt, ref) -> net.rt().rtUnrefPsref(rt, ref));
  }

  /** Holds the address {@code addr} ({@code ifa_ifwithaddr_psref}). */
  static PsrefHolder<Ifaddr> ifaddr(Machine m, NetStack net, String addr) {
    return new PsrefHolder<>(m, ref -> net.addrs().ifaIfwithaddrPsref(ip(addr), ref),
        (ia, ref) -> net.addrs().ifaRelease(ia, ref));
  }

  private PsrefHolder(Machine m, Function<Psref, T> lookup, BiConsumer<T, Psref> release) {
    m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
      Psref ref = new Psref();
      T t = lookup.apply(ref);
      held.set(t);
      holding.set(true);
      gate.pass();
      release.accept(t, ref);
      holding.set(false);
    }, "holder/1");
    await().atMost(LIMIT).until(() -> holding.get() && gate.occupied());
  }

  /** Opens the gate: the holder releases its psref and exits. */
  void release(Machine m) {
    m.run("opener", gate::open);
  }
}
