/** Placeholder until the port lands. */
package org.mpsafe.psref;
