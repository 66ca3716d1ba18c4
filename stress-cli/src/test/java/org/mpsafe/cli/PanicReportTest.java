package org.mpsafe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.mpsafe.psref.UseAfterReturn;

/** The panic report says which dead-frame words the port wrote and which it read. */
class PanicReportTest {
  private static UseAfterReturn read(String classWord) {
    return new UseAfterReturn("ifconfig/1", "0xffffa00000150000", 756, 3, classWord, 1_000L);
  }

  @Test
  void theDeadFrameWord0x2IsSaidToBeWrittenOnPurpose() {
    List<String> note = PanicReport.deadWordNote(read("0x2"));
    assertEquals(1, note.size());
    assertTrue(note.get(0).contains("0x2 is not measured")
        && note.get(0).contains("on purpose"), note.get(0));
  }

  @Test
  void aClassWordIsSaidToBeTheClassBeforeTheSlotWasReused() {
    List<String> note = PanicReport.deadWordNote(read("0xffffc000000006c0"));
    assertEquals(1, note.size());
    assertTrue(note.get(0).contains("P->class still held the class"), note.get(0));
  }
}
