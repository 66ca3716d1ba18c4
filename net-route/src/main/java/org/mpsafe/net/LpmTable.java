package org.mpsafe.net;

import java.util.ArrayList;
import java.util.List;

/**
 * The longest-prefix-match structure behind the routing table: one open-addressing hash map
 * (masked destination → route) per prefix length, and the list of lengths in use, longest
 * first.
 *
 * <p>Cost per lookup: one hash probe per prefix length in use (typically 3-4: /32 local routes,
 * the connected /24s, a few statics, /0) — O(lengths), independent of the number of routes, no
 * allocation, a few cache lines. Insert/delete are O(1) amortised plus a rebuild of the length
 * list. Chosen over a radix trie (NetBSD's {@code radix.c}) because for ≤ 10k routes with few
 * distinct lengths it touches fewer cache lines per lookup; the semantics (most specific
 * prefix wins) are the same.
 *
 * <p>Not thread-safe: the routing table guards it with {@code rt_lock} (readers share). For
 * readers that take no lock ({@link RtLookup#PSERIALIZE}) the writer publishes a
 * {@link Snapshot} after every change: frozen copies of the maps, never written again.
 */
final class LpmTable {
  private final Map[] byLen = new Map[33];
  private int[] lengths = new int[0];
  private int size;

  /** The most specific route containing {@code dst}, or null. */
  Rtentry match(int dst) {
    int[] ls = lengths;
    for (int len : ls) {
      Rtentry rt = byLen[len].get(dst & Inet.mask(len));
      if (rt != null) {
        return rt;
      }
    }
    return null;
  }

  /** The route for exactly {@code dst/len}, or null. */
  Rtentry exact(int dst, int len) {
    Map m = byLen[len];
    return m == null ? null : m.get(dst & Inet.mask(len));
  }

  /** Adds; false if {@code dst/len} is taken. */
  boolean add(Rtentry rt) {
    Map m = byLen[rt.prefixlen];
    if (m == null) {
      m = byLen[rt.prefixlen] = new Map();
    }
    if (!m.put(rt.dst & Inet.mask(rt.prefixlen), rt)) {
      return false;
    }
    size++;
    if (m.size == 1) {
      rebuildLengths();
    }
    return true;
  }

  /** Removes and returns the route for exactly {@code dst/len}, or null. */
  Rtentry remove(int dst, int len) {
    Map m = byLen[len];
    if (m == null) {
      return null;
    }
    Rtentry rt = m.remove(dst & Inet.mask(len));
    if (rt != null) {
      size--;
      if (m.size == 0) {
        rebuildLengths();
      }
    }
    return rt;
  }

  int size() {
    return size;
  }

  List<Rtentry> all() {
    List<Rtentry> out = new ArrayList<>();
    for (int len : lengths) {
      byLen[len].forEach(out);
    }
    return out;
  }

  private void rebuildLengths() {
    int n = 0;
    for (int len = 32; len >= 0; len--) {
      if (byLen[len] != null && byLen[len].size > 0) {
        n++;
      }
    }
    int[] ls = new int[n];
    int i = 0;
    for (int len = 32; len >= 0; len--) {
      if (byLen[len] != null && byLen[len].size > 0) {
        ls[i++] = len;
      }
    }
    lengths = ls;
  }

  /**
   * The table as it was after a change, for readers that hold no lock: per prefix length a copy
   * of the map's arrays, and the lengths in use. Built by the writer under {@code rt_lock}, then
   * published through a volatile field; nothing in it is written after that, so a reader sees
   * either the old snapshot or the new one, each whole.
   */
  static final class Snapshot {
    static final Snapshot EMPTY = new Snapshot(new int[0], new int[33][], new Rtentry[33][]);

    private final int[] lengths;
    private final int[][] keys;
    private final Rtentry[][] vals;

    private Snapshot(int[] lengths, int[][] keys, Rtentry[][] vals) {
      this.lengths = lengths;
      this.keys = keys;
      this.vals = vals;
    }

    /** The most specific route containing {@code dst} in this snapshot, or null. */
    Rtentry match(int dst) {
      for (int len : lengths) {
        int k = dst & Inet.mask(len);
        int[] ks = keys[len];
        Rtentry[] vs = vals[len];
        int mask = ks.length - 1;
        for (int i = Map.hash(k) & mask; ; i = (i + 1) & mask) {
          Rtentry v = vs[i];
          if (v == null) {
            break;
          }
          if (ks[i] == k) {
            return v;
          }
        }
      }
      return null;
    }
  }

  /**
   * A snapshot of this table that differs from {@code prev} only in prefix length {@code len}:
   * that length's map is copied, the others are shared with {@code prev}. Caller: the writer,
   * after changing {@code len}.
   */
  Snapshot snapshot(Snapshot prev, int len) {
    int[][] ks = prev.keys.clone();
    Rtentry[][] vs = prev.vals.clone();
    Map m = byLen[len];
    if (m == null || m.size == 0) {
      ks[len] = null;
      vs[len] = null;
    } else {
      ks[len] = m.keys.clone();
      vs[len] = m.vals.clone();
    }
    return new Snapshot(lengths, ks, vs);
  }

  /** int → Rtentry, linear probing, tombstone-free deletion (backward shift). */
  static final class Map {
    private int[] keys = new int[16];
    private Rtentry[] vals = new Rtentry[16];
    int size;

    static int hash(int k) {
      int h = k * 0x9E3779B9;
      return h ^ (h >>> 16);
    }

    Rtentry get(int k) {
      int mask = keys.length - 1;
      for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
        Rtentry v = vals[i];
        if (v == null) {
          return null;
        }
        if (keys[i] == k) {
          return v;
        }
      }
    }

    boolean put(int k, Rtentry v) {
      if ((size + 1) * 2 > keys.length) {
        grow();
      }
      int mask = keys.length - 1;
      int i = hash(k) & mask;
      for (; vals[i] != null; i = (i + 1) & mask) {
        if (keys[i] == k) {
          return false;
        }
      }
      keys[i] = k;
      vals[i] = v;
      size++;
      return true;
    }

    Rtentry remove(int k) {
      int mask = keys.length - 1;
      int i = hash(k) & mask;
      for (; vals[i] != null; i = (i + 1) & mask) {
        if (keys[i] == k) {
          Rtentry v = vals[i];
          vals[i] = null;
          size--;
          // shift back the entries of the same probe run
          for (int j = (i + 1) & mask; vals[j] != null; j = (j + 1) & mask) {
            int home = hash(keys[j]) & mask;
            if (((j - home) & mask) >= ((j - i) & mask)) {
              keys[i] = keys[j];
              vals[i] = vals[j];
              vals[j] = null;
              i = j;
            }
          }
          return v;
        }
      }
      return null;
    }

    void forEach(List<Rtentry> out) {
      for (Rtentry v : vals) {
        if (v != null) {
          out.add(v);
        }
      }
    }

    private void grow() {
      int[] ok = keys;
      Rtentry[] ov = vals;
      keys = new int[ok.length * 2];
      vals = new Rtentry[ov.length * 2];
      size = 0;
      for (int i = 0; i < ok.length; i++) {
        if (ov[i] != null) {
          put(ok[i], ov[i]);
        }
      }
    }
  }
}
