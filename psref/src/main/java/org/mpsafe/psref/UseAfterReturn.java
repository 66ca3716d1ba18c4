package org.mpsafe.psref;

/**
 * What the use-after-return detector saw: a {@code psreffed_p_xc} callback read the
 * {@code struct psreffed} frame of a {@code psreffed_p} call that had already returned.
 *
 * @param frameOwner the LWP whose kernel stack held the frame (the destroyer)
 * @param frameAddr the frame's address ({@code &P})
 * @param ticket the xcall ticket the frame was broadcast with
 * @param cpu the CPU whose {@code xcall/N} thread read it
 * @param classWord what the dead frame's {@code class} slot held when read ({@code %p})
 * @param uptimeNanos when, since boot
 */
public record UseAfterReturn(
    String frameOwner, String frameAddr, long ticket, int cpu, String classWord,
    long uptimeNanos) {

  public String describe() {
    return "psreffed_p_xc on cpu" + cpu + " read dead frame P=" + frameAddr + " of "
        + frameOwner + " (xcall ticket " + ticket + "): psreffed_p had returned; P->class="
        + classWord;
  }
}
