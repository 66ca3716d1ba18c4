package org.mpsafe.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.mpsafe.kern.Softint;
import org.mpsafe.net.ForwardingLoad;
import org.mpsafe.net.IpforwardRtcache;
import org.mpsafe.net.SoftnetLock;
import org.mpsafe.psref.PsrefOptions;
import org.mpsafe.xcall.Xcall;
import org.mpsafe.xcall.XcallAccounting;

/**
 * The races {@code mpsafe} reproduces ({@code mpsafe list}, {@code repro --bug ID}). Each entry
 * names the NetBSD files whose code it ports, the symptom of the buggy variant and the fix; the
 * variant is a boot option of the module whose code it changes, never a condition in the CLI.
 */
final class Catalog {
  private Catalog() {}

  /**
   * One race.
   *
   * @param id the {@code --bug} name, e.g. {@code kern-51632}
   * @param title what goes wrong, in a line
   * @param files the NetBSD files of the code it ports
   * @param symptom what the buggy variant ends in, as NetBSD prints it
   * @param fix what the fixed variant changes
   * @param doc its page under {@code docs/}
   * @param outcome what the buggy variant ends in: {@code panic} or {@code hang}
   * @param options the boot options selecting the variant's code path, given {@code buggy}
   *     (each option belongs to the module whose code it changes)
   * @param load how the entry shapes the forwarding load (identity for the PR's load)
   * @param story the interleaving in numbered steps, as the report prints it under the symptom
   *     (empty for kern-51632, whose steps the report builds from what the detectors saw)
   */
  record Entry(String id, String title, String files, String symptom, String fix, String doc,
      String outcome, Function<Boolean, Map<String, Object>> options,
      UnaryOperator<ForwardingLoad.Config> load, List<String> story) {
    /** What {@code mpsafe list --json} prints of the entry. */
    Map<String, Object> json() {
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("id", id);
      j.put("title", title);
      j.put("files", files);
      j.put("symptom", symptom);
      j.put("outcome", outcome);
      j.put("fix", fix);
      j.put("doc", doc);
      return j;
    }
  }

  static final List<Entry> ENTRIES = List.of(
      new Entry("kern-51632",
          "low-priority xcall: xc_wait returns while a callback still runs (xc_tailp counted "
              + "before the callback); psref_target_destroy returns under a reader",
          "sys/kern/subr_xcall.c 1.18, sys/kern/subr_psref.c 1.4",
          "panic: kernel diagnostic assertion \"(target->prt_class == class)\" failed: file "
              + "\"sys/kern/subr_psref.c\", line 485 mismatched psref target class: 0x0 (ref) "
              + "!= 0x2 (expected)",
          "admit and wake on xc_donep, counted after the callback; drop xc_tailp (the PR's "
              + "diff, Nov 2016)",
          "docs/races/kern-51632.md", "panic",
          buggy -> Map.of(Xcall.OPTION_ACCOUNTING,
              buggy ? XcallAccounting.LEGACY_TAILP : XcallAccounting.FIXED_DONEP),
          UnaryOperator.identity(), List.of()),
      new Entry("rtcache-shared",
          "one forwarding route cache (struct route ipforward_rt) shared by the ipintr softints "
              + "of every CPU: two CPUs take its one psref at once",
          "sys/netinet/ip_input.c 1.324 (ipforward_rt) / 1.383 (ipforward_rt_percpu), "
              + "sys/net/route.c 1.207 (rtcache_*), sys/net/route.h (struct route)",
          "panic: kernel diagnostic assertion \"(psref->psref_lwp == curlwp)\" failed: file "
              + "\"sys/kern/subr_psref.c\", line 276 passive reference transferred from lwp %p "
              + "to lwp %p (other interleavings fail first: line 273 \"passive reference target "
              + "mismatch\", route.c's KASSERT \"ro->_ro_rt == NULL\", DEBUG \"The psref is "
              + "already in the list (acquiring twice?)\")",
          "one struct route per CPU (ipforward_rt_percpu), taken with percpu_getref and "
              + "given back with percpu_putref",
          "docs/races/rtcache-shared.md", "panic",
          buggy -> Map.of(IpforwardRtcache.OPTION,
              buggy ? IpforwardRtcache.SHARED : IpforwardRtcache.PERCPU,
              PsrefOptions.OPTION_DEBUG, true,
              PsrefOptions.OPTION_LWP_COUNT, true),
          UnaryOperator.identity(),
          List.of("softnet/A on one CPU forwards a packet through the one struct route "
                  + "ipforward_rt: rtcache_lookup -> rtcache_ref puts ro_psref on its CPU's psref "
                  + "list with psref_lwp = softnet/A",
              "before softnet/A's rtcache_unref, softnet/B on another CPU forwards a packet "
                  + "through the same struct route: its psref_acquire links the same ro_psref "
                  + "into its own CPU's list and overwrites psref_lwp (and psref_cpu, and "
                  + "psref_target if its packet took another route)",
              "softnet/A finishes: rtcache_unref -> psref_release finds the psref softnet/B "
                  + "rewrote and fails its check (the LWP, or the target first)")),
      new Entry("softnet-purgeif",
          "if_detach's pr_purgeif holds softnet_lock while in_purgeif drains psrefs; a softint "
              + "holding a route's psref waits for softnet_lock: deadlock (ifconfig destroy "
              + "stalls)",
          "sys/netinet6/udp6_usrreq.c 1.121, sys/netinet/udp_usrreq.c 1.222, "
              + "sys/net/if.c 1.419.2.9, sys/netinet/ip_input.c 1.324",
          "softnet/N blocked on softnet_lock, owner ifconfig/M (draining in "
              + "psref_target_destroy)",
          "drop softnet_lock around in_purgeif in pr_purgeif under NET_MPSAFE (knakahara, "
              + "2016-11-18; udp6_usrreq.c 1.137.2.1)",
          "docs/races/softnet-purgeif.md", "hang",
          buggy -> Map.of(SoftnetLock.OPTION,
              buggy ? SoftnetLock.PURGEIF_HELD : SoftnetLock.PURGEIF_RELEASED),
          c -> c.withLocalPercent(20).withIfDestroy(true),
          List.of("ifconfig/M destroys an interface: if_detach -> pr_purgeif takes softnet_lock "
                  + "and calls in_purgeif with it held",
              "on another CPU ipintr finds the local route of one of the interface's addresses "
                  + "for a packet and holds that route's psref",
              "softnet/N calls mutex_enter(softnet_lock) for the protocol input (pr_input runs "
                  + "under SOFTNET_LOCK) and sleeps, still holding the psref",
              "in_purgeif -> in_purgeaddr deletes that local route; rt_free -> "
                  + "psref_target_destroy finds the psref held on CPU N, waits a tick, asks "
                  + "again: for ever, since softnet/N waits for the lock ifconfig/M holds")),
      new Entry("softint-disestablish",
          "softint_disestablish waits only for SOFTINT_ACTIVE: an if_percpuq softint still "
              + "pending behind a sleeping ipintr runs after if_detach freed its queue",
          "sys/kern/kern_softint.c 1.41, sys/net/if.c (if_percpuq_destroy), "
              + "sys/netinet/ip_input.c 1.324",
          "panic: use after free: softint_execute on cpuN: softint if_percpuq_softint (arg "
              + "if_percpuq vioN) was disestablished while pending here: sh_func == NULL (trap "
              + "type 6, call through NULL)",
          "wait while the handler is SOFTINT_PENDING or SOFTINT_ACTIVE on any CPU "
              + "(kern_softint.c 1.38.14.2, netbsd-7); later an xc_barrier at the softint's IPL",
          "docs/races/softint-disestablish.md", "panic",
          buggy -> Map.of(Softint.OPTION_DISESTABLISH,
              buggy ? Softint.Disestablish.ACTIVE : Softint.Disestablish.PENDING,
              SoftnetLock.OPTION, SoftnetLock.IPINTR),
          load -> load.withDetachLwps(2),
          List.of("nic/N queues packets on interface B's if_percpuq and schedules "
                  + "if_percpuq_softint on CPU N: SOFTINT_PENDING, behind ipintr, also pending",
              "softnet/N runs ipintr first, which sleeps on softnet_lock, held by another "
                  + "detach's pr_purgeif (route deletes, psref drains, cross calls); B's handler "
                  + "stays PENDING, not ACTIVE",
              "ifdetach/J quiesces B's NICs and calls if_detach(B), which ends in "
                  + "if_percpuq_destroy -> softint_disestablish; its low-priority nullop runs "
                  + "on CPU N in xcall/N, since a sleeping softint LWP does not hold its CPU",
              "the flag scan finds PENDING but no ACTIVE: kern_softint.c 1.41 stops waiting, "
                  + "clears sh_func on every CPU and returns; if_percpuq_destroy frees the queue",
              "softnet_lock is released, ipintr finishes, softint_execute takes B's record and "
                  + "calls through its sh_func")));

  /** The entry whose variant {@code --xcall legacy|fixed} also selects. */
  static final String KERN_51632 = "kern-51632";

  /** The entry named {@code id}; {@link #find} has checked it exists. */
  static Entry get(String id) {
    return find(id).orElseThrow(() -> new IllegalArgumentException("unknown bug '" + id + "'"));
  }

  static Optional<Entry> find(String id) {
    return ENTRIES.stream().filter(e -> e.id().equals(id)).findFirst();
  }

  static String ids() {
    return String.join(", ", ENTRIES.stream().map(Entry::id).toList());
  }
}
