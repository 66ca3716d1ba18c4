package org.mpsafe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The longest-prefix-match structure against a brute-force reference: random adds, deletes and
 * lookups, the reference being "scan every route, keep the longest prefix containing dst".
 *
 * <p>Seeded; the seed is printed and can be given back with {@code -Dlpm.seed=N}.
 */
class LpmTableTest {
  private static final long SEED = Long.getLong("lpm.seed", System.nanoTime());

  /** Routes are clustered in a few /8s so that prefixes nest and hash runs collide. */
  private static int randomDst(SplittableRandom rnd) {
    int[] nets = {0x0A00_0000, 0xAC10_0000, 0xC0A8_0000, 0x0000_0000};
    return nets[rnd.nextInt(nets.length)] | (rnd.nextInt() & 0x00FF_FFFF);
  }

  private static int randomLen(SplittableRandom rnd) {
    int r = rnd.nextInt(100);
    if (r < 30) {
      return 32;
    }
    if (r < 60) {
      return 24;
    }
    if (r < 62) {
      return 0;
    }
    return 1 + rnd.nextInt(32);
  }

  private static long key(int dst, int len) {
    return ((long) (dst & Inet.mask(len)) << 6) | len;
  }

  private static Rtentry reference(Map<Long, Rtentry> ref, int dst) {
    Rtentry best = null;
    for (Rtentry rt : ref.values()) {
      if ((dst & Inet.mask(rt.prefixlen)) == rt.dst
          && (best == null || rt.prefixlen > best.prefixlen)) {
        best = rt;
      }
    }
    return best;
  }

  @Test
  void randomRoutesMatchABruteForceReference() {
    System.out.println("LpmTableTest seed: " + SEED + " (rerun with -Dlpm.seed=" + SEED + ")");
    SplittableRandom rnd = new SplittableRandom(SEED);
    LpmTable t = new LpmTable();
    Map<Long, Rtentry> ref = new HashMap<>();
    List<Rtentry> live = new ArrayList<>();
    // The lock-free readers' view, republished after every change as RouteTable does, and one
    // snapshot kept from the middle of the run with the answers it gave then.
    LpmTable.Snapshot snap = LpmTable.Snapshot.EMPTY;
    LpmTable.Snapshot kept = null;
    Map<Integer, Rtentry> keptAnswers = new HashMap<>();
    for (int op = 0; op < 40_000; op++) {
      int r = rnd.nextInt(100);
      String ctx = "seed " + SEED + " op " + op;
      if (r < 45 || live.isEmpty()) {
        int len = randomLen(rnd);
        int dst = randomDst(rnd);
        Rtentry rt = new Rtentry(dst & Inet.mask(len), len, 0, Rtentry.RTF_UP, null, null);
        boolean fresh = !ref.containsKey(key(dst, len));
        assertEquals(fresh, t.add(rt), ctx + " add " + Inet.format(dst, len));
        if (fresh) {
          ref.put(key(dst, len), rt);
          live.add(rt);
          snap = t.snapshot(snap, len);
        }
      } else if (r < 75) {
        // Delete: mostly a live route, sometimes one that is not there.
        if (rnd.nextInt(4) == 0) {
          int len = randomLen(rnd);
          int dst = randomDst(rnd);
          Rtentry gone = ref.remove(key(dst, len));
          assertSame(gone, t.remove(dst, len), ctx);
          live.removeIf(x -> x.dst == (dst & Inet.mask(len)) && x.prefixlen == len);
          if (gone != null) {
            snap = t.snapshot(snap, len);
          }
        } else {
          Rtentry rt = live.remove(rnd.nextInt(live.size()));
          // remove() masks its argument: pass a host inside the prefix.
          int inside = rt.dst | (rnd.nextInt() & ~Inet.mask(rt.prefixlen));
          assertSame(rt, t.remove(inside, rt.prefixlen), ctx);
          ref.remove(key(rt.dst, rt.prefixlen));
          snap = t.snapshot(snap, rt.prefixlen);
          assertNull(t.exact(rt.dst, rt.prefixlen), ctx);
        }
      } else {
        int dst = rnd.nextInt(3) == 0 && !live.isEmpty()
            ? live.get(rnd.nextInt(live.size())).dst | (rnd.nextInt() & 0xFF) : randomDst(rnd);
        Rtentry want = reference(ref, dst);
        assertSame(want, t.match(dst), ctx + " match " + Inet.format(dst));
        assertSame(want, snap.match(dst), ctx + " snapshot match " + Inet.format(dst));
        if (kept != null && keptAnswers.containsKey(dst)) {
          assertSame(keptAnswers.get(dst), kept.match(dst), ctx + " kept snapshot changed");
        }
      }
      if (kept != null && op % 50 == 0) {
        for (Map.Entry<Integer, Rtentry> e : keptAnswers.entrySet()) {
          assertSame(e.getValue(), kept.match(e.getKey()), ctx + " kept snapshot changed");
        }
      }
      if (op == 20_000) {
        kept = snap;
        for (int i = 0; i < 2000 && !live.isEmpty(); i++) {
          // Inside a live route: answers that later deletes would change in a shared table.
          Rtentry rt = live.get(rnd.nextInt(live.size()));
          int dst = rt.dst | (rnd.nextInt() & ~Inet.mask(rt.prefixlen));
          keptAnswers.put(dst, reference(ref, dst));
        }
      }
      assertEquals(ref.size(), t.size(), ctx);
    }
    // Every route is found exactly, and all() lists each once, most specific first.
    List<Rtentry> all = t.all();
    assertEquals(ref.size(), all.size());
    assertEquals(new HashSet<>(ref.values()), new HashSet<>(all));
    for (int i = 1; i < all.size(); i++) {
      assertTrue(all.get(i - 1).prefixlen >= all.get(i).prefixlen, "all() order");
    }
    for (Rtentry rt : ref.values()) {
      assertSame(rt, t.exact(rt.dst, rt.prefixlen));
    }
    for (Map.Entry<Integer, Rtentry> e : keptAnswers.entrySet()) {
      assertSame(e.getValue(), kept.match(e.getKey()), "a published snapshot never changes");
    }
    System.out.println("LpmTableTest: " + ref.size() + " routes at the end");
  }

  /** Backward-shift deletion keeps every member of a long probe run reachable. */
  @Test
  void deletingInsideCollidingRunsKeepsTheRestReachable() {
    SplittableRandom rnd = new SplittableRandom(SEED ^ 0x5A5A);
    LpmTable t = new LpmTable();
    List<Rtentry> hosts = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      Rtentry rt = new Rtentry(0x0A00_0000 + i, 32, 0, Rtentry.RTF_UP, null, null);
      assertTrue(t.add(rt));
      hosts.add(rt);
    }
    while (!hosts.isEmpty()) {
      Rtentry gone = hosts.remove(rnd.nextInt(hosts.size()));
      assertSame(gone, t.remove(gone.dst, 32));
      assertNull(t.match(gone.dst));
      if (hosts.size() % 97 == 0) {
        for (Rtentry rt : hosts) {
          assertSame(rt, t.match(rt.dst), "seed " + SEED);
        }
      }
    }
    assertEquals(0, t.size());
    assertEquals(List.of(), t.all());
  }

  @Test
  void prefixLengthsComeAndGoWithTheirLastRoute() {
    LpmTable t = new LpmTable();
    Rtentry def = new Rtentry(0, 0, 0, Rtentry.RTF_UP, null, null);
    Rtentry n8 = new Rtentry(0x0A00_0000, 8, 0, Rtentry.RTF_UP, null, null);
    Rtentry n24a = new Rtentry(0x0A01_0200, 24, 0, Rtentry.RTF_UP, null, null);
    Rtentry n24b = new Rtentry(0x0A01_0300, 24, 0, Rtentry.RTF_UP, null, null);
    for (Rtentry rt : List.of(def, n8, n24a, n24b)) {
      assertTrue(t.add(rt));
    }
    assertFalse(t.add(new Rtentry(0x0A01_02FF & Inet.mask(24), 24, 0, 0, null, null)));
    assertSame(n24a, t.match(0x0A01_0209));
    assertSame(n24b, t.match(0x0A01_0309));
    assertSame(n8, t.match(0x0A01_0409));
    assertSame(def, t.match(0x0B00_0001));
    assertSame(n24a, t.remove(0x0A01_0200, 24));
    assertSame(n8, t.match(0x0A01_0209), "/24 still in use by the other route");
    assertSame(n24b, t.match(0x0A01_0309));
    assertSame(n24b, t.remove(0x0A01_0300, 24));
    assertSame(def, t.remove(0, 0));
    assertNull(t.match(0x0B00_0001));
    assertSame(n8, t.match(0x0A01_0309));
    List<Rtentry> all = t.all();
    all.sort(Comparator.comparingInt(Rtentry::prefixlen));
    assertEquals(List.of(n8), all);
  }
}
