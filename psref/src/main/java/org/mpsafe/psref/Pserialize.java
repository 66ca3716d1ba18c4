package org.mpsafe.psref;

import org.mpsafe.kern.Ipl;
import org.mpsafe.kern.Kassert;
import org.mpsafe.kern.Kern;
import org.mpsafe.kern.Lwp;
import org.mpsafe.xcall.Xcall;

/**
 * Passive serialization ({@code sys/kern/subr_pserialize.c}): readers run lock-free inside a
 * read section; a writer that unpublished an object waits in {@link #perform} until every
 * reader that might still see it has left its section.
 *
 * <pre>{@code
 * int s = Pserialize.readEnter();      // no sleeping inside
 * ... walk the published list ...
 * Pserialize.readExit(s);
 *
 * mutex_enter(writer lock); unlink(o); psz.perform(); mutex_exit(...); free(o);
 * }</pre>
 *
 * <pre>
 * Implementation notes
 *
 * A read section raises the CPU to IPL_SOFTSERIAL (pserialize_read_enter = splsoftserial() in
 * NetBSD 7). perform() is a high-priority xcall barrier at IPL_SOFTSERIAL: its softint cannot
 * run on a CPU while a read section is open there, so when the barrier's callback has run on
 * every CPU, every section that began before perform() has ended. (NetBSD 7 implemented
 * perform with two passes of a "passed" CPU set and xc_broadcast(XC_HIGHPRI); the guarantee is
 * the same; NetBSD >= 9 uses xc_barrier(XC_HIGHPRI) as here.) Writers are serialised by the
 * object's own lock, as in NetBSD; perform() asserts it is not called from a read section or
 * a softint.
 * </pre>
 */
public final class Pserialize {
  private static final String FILE = "sys/kern/subr_pserialize.c";

  private final String name;

  private Pserialize(String name) {
    this.name = name;
  }

  /** {@code pserialize_create()}. */
  public static Pserialize create(String name) {
    return new Pserialize(name);
  }

  /** {@code pserialize_destroy(psz)}. */
  public void destroy() {}

  /** {@code pserialize_read_enter()}: opens a read section; returns the cookie for exit. */
  public static int readEnter() {
    Lwp l = Lwp.current();
    int s = Kern.splraiseipl(l, Ipl.IPL_SOFTSERIAL);
    l.pserializeReadEnter();
    return s;
  }

  /** {@code pserialize_read_exit(s)}. */
  public static void readExit(int s) {
    Lwp l = Lwp.current();
    Kassert.kassert(l.pserializeDepth() > 0, "pserialize_in_read_section()", FILE, 275);
    l.pserializeReadExit();
    Kern.splx(l, s);
  }

  /** {@code pserialize_in_read_section()}: only inside assertions. */
  public static boolean inReadSection() {
    return Lwp.current().pserializeDepth() > 0;
  }

  /**
   * {@code pserialize_perform(psz)}: waits until every read section open when it was called has
   * closed. May sleep; not from a softint or a read section.
   */
  public void perform() {
    Kassert.kassert(!Kern.cpuIntrP(), "!cpu_intr_p()", FILE, 148);
    Kassert.kassert(!Kern.cpuSoftintrP(), "!cpu_softintr_p()", FILE, 149);
    Kern.assertSleepable();
    Xcall.barrier(Xcall.XC_HIGHPRI);
  }

  @Override
  public String toString() {
    return "pserialize " + name;
  }
}
