package org.mpsafe.net;

/** IPv4 addresses as {@code int}s (host order), prefixes, and the errno values in_control returns. */
public final class Inet {
  private Inet() {}

  public static final int ESRCH = 3;
  public static final int ENXIO = 6;
  public static final int EEXIST = 17;
  public static final int EINVAL = 22;
  public static final int EADDRNOTAVAIL = 49;
  public static final int ENETUNREACH = 51;
  public static final int EHOSTUNREACH = 65;

  /** {@code SIOCAIFADDR}: add an address (and its connected and local routes). */
  public static final int SIOCAIFADDR = 1;
  /** {@code SIOCDIFADDR}: delete an address (and destroy its routes and its ifaddr). */
  public static final int SIOCDIFADDR = 2;

  /** The netmask of a prefix length. */
  public static int mask(int prefixlen) {
    return prefixlen == 0 ? 0 : -1 << (32 - prefixlen);
  }

  /** Parses dotted quad {@code a.b.c.d}; IllegalArgumentException naming the input otherwise. */
  public static int parse(String s) {
    String[] p = s.trim().split("\\.", -1);
    if (p.length != 4) {
      throw new IllegalArgumentException("not an IPv4 address: " + s);
    }
    int a = 0;
    for (String x : p) {
      int v;
      try {
        v = Integer.parseInt(x);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      }
      if (v < 0 || v > 255 || x.isEmpty()) {
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      }
      a = (a << 8) | v;
    }
    return a;
  }

  public static String format(int a) {
    return (a >>> 24) + "." + ((a >>> 16) & 255) + "." + ((a >>> 8) & 255) + "." + (a & 255);
  }

  public static String format(int a, int prefixlen) {
    return format(a) + "/" + prefixlen;
  }

  /** {@code errno} name, for messages. */
  public static String errno(int e) {
    switch (e) {
      case 0: return "0";
      case ESRCH: return "ESRCH";
      case ENXIO: return "ENXIO";
      case EEXIST: return "EEXIST";
      case EINVAL: return "EINVAL";
      case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
      case ENETUNREACH: return "ENETUNREACH";
      case EHOSTUNREACH: return "EHOSTUNREACH";
      default: return "errno " + e;
    }
  }
}
