package org.mpsafe.kern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.mpsafe.kern.KernTestSupport.assertCleanShutdown;
import static org.mpsafe.kern.KernTestSupport.awaitOrStop;
import static org.mpsafe.kern.KernTestSupport.check;
import static org.mpsafe.kern.KernTestSupport.spinUntil;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** rwlock(9): readers share, a writer excludes, a waiting writer holds new readers off. */
class KRwlockTest {

  /** Both readers are inside at once: each waits, holding the lock, for the other to arrive. */
  @Test
  void twoReadersHoldItAtTheSameTime() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KRwlock rw = new KRwlock("rt");
      CountDownLatch bothInside = new CountDownLatch(2);
      AtomicInteger met = new AtomicInteger();
      for (int i = 0; i < 2; i++) {
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(i), () -> {
          rw.enter(KRwlock.RW_READER);
          check(rw.lockHeld() && !rw.writeHeld(), "read-held");
          bothInside.countDown();
          try {
            if (bothInside.await(KernTestSupport.TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
              met.incrementAndGet();
            }
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
          rw.exit();
        }, "reader/" + i);
      }
      awaitOrStop(m, () -> met.get() == 2);
      assertFalse(rw.lockHeld());
      assertCleanShutdown(m);
    }
  }

  /** A reader sleeps on the lock (giving its CPU up) while a writer holds it. */
  @Test
  void writerExcludesReaders() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KRwlock rw = new KRwlock("rtable");
      AtomicBoolean writing = new AtomicBoolean();
      AtomicBoolean release = new AtomicBoolean();
      AtomicBoolean readerIn = new AtomicBoolean();
      List<String> seen = new CopyOnWriteArrayList<>();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        rw.enter(KRwlock.RW_WRITER);
        check(rw.writeHeld(), "rw_write_held");
        writing.set(true);
        spinUntil(release::get);
        seen.add("writer leaves, reader in=" + readerIn.get());
        rw.exit();
      }, "writer");
      awaitOrStop(m, writing::get);
      Lwp reader = m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(1), () -> {
        rw.enter(KRwlock.RW_READER);
        readerIn.set(true);
        check(!rw.writeHeld(), "a reader does not hold it for write");
        seen.add("reader in");
        rw.exit();
      }, "reader");
      awaitOrStop(m, () -> reader.state() == Lwp.State.SLEEP);
      assertEquals("rtable", reader.wchan());
      assertFalse(readerIn.get());
      release.set(true);
      awaitOrStop(m, readerIn::get);
      assertEquals(List.of("writer leaves, reader in=false", "reader in"), seen);
      assertCleanShutdown(m);
    }
  }

  /**
   * A writer waits for the reader inside; while it waits, a new reader may not enter
   * (RW_WRITE_WANTED), so the writer goes first when the reader leaves.
   */
  @Test
  void waitingWriterHoldsNewReadersOff() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KRwlock rw = new KRwlock("ww");
      AtomicBoolean reading = new AtomicBoolean();
      AtomicBoolean release = new AtomicBoolean();
      List<String> order = new CopyOnWriteArrayList<>();
      m.kthreadCreate(Pri.PRI_KTHREAD, 0, m.cpu(0), () -> {
        rw.enter(KRwlock.RW_READER);
        reading.set(true);
        spinUntil(release::get);
        order.add("reader1 out");
        rw.exit();
      }, "reader1");
      awaitOrStop(m, reading::get);
      Lwp writer = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        rw.enter(KRwlock.RW_WRITER);
        order.add("writer in");
        rw.exit();
      }, "writer");
      awaitOrStop(m, () -> writer.state() == Lwp.State.SLEEP);
      Lwp reader2 = m.kthreadCreate(Pri.PRI_KTHREAD, 0, null, () -> {
        rw.enter(KRwlock.RW_READER);
        order.add("reader2 in");
        rw.exit();
      }, "reader2");
      awaitOrStop(m, () -> reader2.state() == Lwp.State.SLEEP);
      assertEquals(List.of(), order);
      release.set(true);
      awaitOrStop(m, () -> order.size() == 3);
      assertEquals(List.of("reader1 out", "writer in", "reader2 in"), order);
      assertCleanShutdown(m);
    }
  }

  /** Readers and writers under load: writers see no reader inside, the count adds up. */
  @Test
  void mixedLoadKeepsExclusion() {
    try (Machine m = Machine.boot(MachineConfig.of(2))) {
      KRwlock rw = new KRwlock("mix");
      AtomicInteger readersIn = new AtomicInteger();
      AtomicInteger bad = new AtomicInteger();
      long[] value = {0};
      AtomicInteger done = new AtomicInteger();
      for (int i = 0; i < 4; i++) {
        boolean writer = i < 2;
        m.kthreadCreate(Pri.PRI_KTHREAD, 0, i == 0 ? m.cpu(0) : null, () -> {
          for (int k = 0; k < 3000; k++) {
            if (writer) {
              rw.enter(KRwlock.RW_WRITER);
              if (readersIn.get() != 0) {
                bad.incrementAndGet();
              }
              value[0]++;
              rw.exit();
            } else {
              rw.enter(KRwlock.RW_READER);
              readersIn.incrementAndGet();
              Kern.preempt();
              readersIn.decrementAndGet();
              rw.exit();
            }
          }
          done.incrementAndGet();
        }, (writer ? "w" : "r") + i);
      }
      awaitOrStop(m, () -> done.get() == 4);
      assertEquals(0, bad.get());
      assertEquals(6000L, value[0]);
      assertCleanShutdown(m);
    }
  }

  @Test
  void rwExitOfUnheldLockPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KRwlock rw = new KRwlock("x");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("t", rw::exit));
      assertEquals("rw_vector_exit: lock not held", e.panic().message());
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void rwWriterLockingAgainstMyselfPanics() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KRwlock rw = new KRwlock("x");
      KernelPanic e = assertThrows(KernelPanic.class, () -> m.run("t", () -> {
        rw.enter(KRwlock.RW_WRITER);
        rw.enter(KRwlock.RW_WRITER);
      }));
      assertEquals("rw_vector_enter: locking against myself", e.panic().message());
      assertEquals(List.of(), m.shutdown());
    }
  }

  @Test
  void badOpIsMisuse() {
    try (Machine m = Machine.boot(MachineConfig.of(1))) {
      KRwlock rw = new KRwlock("x");
      assertThrows(IllegalArgumentException.class, () -> m.run("t", () -> rw.enter(2)));
      assertCleanShutdown(m);
    }
  }
}
