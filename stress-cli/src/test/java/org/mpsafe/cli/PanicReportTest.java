package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The panic report says which dead-frame words the port wrote and which it read. */
class PanicReportTest {
  private static String message(String expected) {
    return "kernel diagnostic assertion \"(target->prt_class == class)\" failed: file "
        + "\"sys/kern/subr_psref.c\", line 485 mismatched psref target class: 0x0 (ref) != "
        + expected + " (expected)";
  }

  @Test
  void theDeadFrameWord0x2IsSaidToBeWrittenOnPurpose() {
    List<String> note = PanicReport.deadWordNote(message("0x2"));
    assertEquals(1, note.size());
    assertTrue(note.get(0).contains("0x2 is not measured")
        && note.get(0).contains("on purpose"), note.get(0));
  }

  @Test
  void aClassWordIsSaidToBeTheClassBeforeTheSlotWasReused() {
    List<String> note = PanicReport.deadWordNote(message("0xffffc000000006c0"));
    assertEquals(1, note.size());
    assertTrue(note.get(0).contains("P->class still held the class"), note.get(0));
  }

  @Test
  void anotherPanicGetsNoNote() {
    assertEquals(List.of(), PanicReport.deadWordNote("Mutex error: mutex_vector_exit: not owner"));
  }
}
