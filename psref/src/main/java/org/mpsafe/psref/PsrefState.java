package org.mpsafe.psref;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.mpsafe.kern.Machine;

/** psref's per-machine state: options, the use-after-return detector's findings, counters. */
final class PsrefState {
  final Machine machine;
  final PsrefOptions options;
  final AtomicLong useAfterReturn = new AtomicLong();
  final List<UseAfterReturn> recent = new CopyOnWriteArrayList<>();
  final List<Consumer<UseAfterReturn>> listeners = new CopyOnWriteArrayList<>();

  private PsrefState(Machine m) {
    this.machine = m;
    this.options = PsrefOptions.of(m.config());
  }

  static PsrefState of(Machine m) {
    return m.subsystem(PsrefState.class, PsrefState::new);
  }

  void report(UseAfterReturn u) {
    useAfterReturn.incrementAndGet();
    if (recent.size() < 64) {
      recent.add(u);
    }
    for (Consumer<UseAfterReturn> l : listeners) {
      l.accept(u);
    }
  }
}
