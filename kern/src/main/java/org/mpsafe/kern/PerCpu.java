package org.mpsafe.kern;

import java.util.function.BiConsumer;
import java.util.function.IntFunction;

/**
 * {@code percpu(9)}: one {@code T} per CPU.
 *
 * <pre>{@code
 * T mine = pc.getref();   // percpu_getref: preemption off, so we stay on this CPU
 * try { ... use mine ... } finally { pc.putref(); }
 * }</pre>
 *
 * The value of a CPU is owned by that CPU: read and written only by the LWP running there
 * between {@code getref} and {@code putref}, or with the CPU pinned by other means (a bound
 * LWP, a softint, raised IPL). {@link #foreach} and {@link #get} from another CPU are racy
 * reads, as {@code percpu_foreach} is in NetBSD.
 */
public final class PerCpu<T> {
  private final Object[] slots;
  private final Machine machine;

  private PerCpu(Machine m, IntFunction<T> init) {
    this.machine = m;
    this.slots = new Object[m.ncpu()];
    for (int i = 0; i < slots.length; i++) {
      slots[i] = init.apply(i);
    }
  }

  /** {@code percpu_alloc}: {@code init} makes the value of CPU {@code i}. */
  public static <T> PerCpu<T> alloc(Machine m, IntFunction<T> init) {
    return new PerCpu<>(m, init);
  }

  /** {@code percpu_getref}: disables preemption and returns this CPU's value. */
  @SuppressWarnings("unchecked")
  public T getref() {
    Lwp l = Lwp.current();
    l.nopreempt++;
    return (T) slots[l.cpu.index()];
  }

  /** {@code percpu_putref}: re-enables preemption. */
  public void putref() {
    Kern.kpreemptEnable();
  }

  /** {@link #getref()} for {@code l == curlwp}. */
  @SuppressWarnings("unchecked")
  public T getref(Lwp l) {
    l.nopreempt++;
    return (T) slots[l.cpu.index()];
  }

  /** {@link #getref()} for {@code l == curlwp} on {@code c == curcpu()}, read by the caller. */
  @SuppressWarnings("unchecked")
  public T getref(Lwp l, Cpu c) {
    l.nopreempt++;
    return (T) slots[c.index()];
  }

  /**
   * {@code percpu_putref(); splx(s)} for {@code l == curlwp} on {@code c == curcpu()}, in one
   * step: the hot path of {@code psref_acquire}, which raised the IPL before its getref. On the
   * host-scheduled machine the two preemption points become one check after the IPL is lowered:
   * a waiter that could have taken the CPU at the putref (a softint above the raised IPL) is
   * also allowed at the lower IPL and still outranks whoever else waits, so the same LWP runs
   * next, a few instructions later. The deterministic machine steps at each point, as the two
   * calls would, so its schedules are unchanged.
   */
  public void putrefSplx(Lwp l, Cpu c, int s) {
    int n = --l.nopreempt;
    if (l.det != null) {
      if (n == 0) {
        Kern.preemptPoint(l);
      }
      Kern.splx(l, s);
      return;
    }
    int old = c.ipl;
    c.ipl = s;
    if (n == 0 || s < old) {
      Kern.preemptPoint(l, c);
    }
  }

  /** {@link #putref()} for {@code l == curlwp}: a preemption point when preemption comes back. */
  public void putref(Lwp l) {
    if (--l.nopreempt == 0) {
      Kern.preemptPoint(l);
    }
  }

  /** The value of the current CPU, for callers already pinned (softint, bound, raised IPL). */
  @SuppressWarnings("unchecked")
  public T local() {
    return (T) slots[Lwp.current().cpu.index()];
  }

  /** The value of CPU {@code index}: racy unless the caller runs there. */
  @SuppressWarnings("unchecked")
  public T get(int index) {
    return (T) slots[index];
  }

  /** {@code percpu_foreach}. */
  @SuppressWarnings("unchecked")
  public void foreach(BiConsumer<Cpu, T> fn) {
    for (int i = 0; i < slots.length; i++) {
      fn.accept(machine.cpu(i), (T) slots[i]);
    }
  }
}
