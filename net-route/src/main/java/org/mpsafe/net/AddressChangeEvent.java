package org.mpsafe.net;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** JFR: in_control added or deleted an address (duration = the ioctl, destroys included). */
@Name("mpsafe.net.AddressChange")
@Label("Address Change")
@Category({"mpsafe", "net"})
@Description("SIOCAIFADDR / SIOCDIFADDR on an interface")
@StackTrace(false)
final class AddressChangeEvent extends jdk.jfr.Event {
  @Label("Interface") String ifp;
  @Label("Address") String addr;
  @Label("Operation") String op;
  @Label("Errno") int errno;
}
