/** Placeholder until the port lands. */
package org.mpsafe.net;
