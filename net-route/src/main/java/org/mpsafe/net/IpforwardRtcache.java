package org.mpsafe.net;

/**
 * Which route cache {@code ip_forward} uses: a boot option of net-route
 * ({@code MachineConfig.withOption(IpforwardRtcache.OPTION, mode)}), read once when the stack is
 * created.
 *
 * <p>{@link #NONE} is the default and keeps the forwarding path of PR kern/51632's kernel: a
 * routing-table lookup per packet ({@code rtalloc1_psref}). The other two forward through a
 * {@link Route} ({@code struct route}) with the psref-based rtcache of {@code route.c} 1.207:
 * {@link #SHARED} is one {@code struct route ipforward_rt} for every CPU ({@code ip_input.c}
 * 1.324 and earlier), {@link #PERCPU} one per CPU, taken with {@code percpu_getref}
 * ({@code ipforward_rt_percpu}, {@code ip_input.c} 1.383). See docs/races/rtcache-shared.md.
 */
public enum IpforwardRtcache {
  /** {@code rtalloc1_psref} per packet, no rtcache (the default). */
  NONE,
  /** One {@code struct route ipforward_rt} shared by the {@code ipintr} softints of all CPUs. */
  SHARED,
  /** {@code ipforward_rt_percpu}: one {@code struct route} per CPU. */
  PERCPU;

  /** The boot option's key. */
  public static final String OPTION = "net.ipforward.rtcache";
}
