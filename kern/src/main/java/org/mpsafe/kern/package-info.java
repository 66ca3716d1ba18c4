/** The machine. */
package org.mpsafe.kern;
