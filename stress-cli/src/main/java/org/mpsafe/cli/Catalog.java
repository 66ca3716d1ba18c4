package org.mpsafe.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.mpsafe.kern.Softint;
import org.mpsafe.net.ForwardingLoad;
import org.mpsafe.net.NetStack;
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
   */
  record Entry(String id, String title, String files, String symptom, String fix, String doc,
      String outcome, Function<Boolean, Map<String, Object>> options,
      UnaryOperator<ForwardingLoad.Config> load) {
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
          UnaryOperator.identity()),
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
              NetStack.OPTION_SOFTNET_LOCK, Boolean.TRUE),
          load -> load.withDetachLwps(2)));

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
