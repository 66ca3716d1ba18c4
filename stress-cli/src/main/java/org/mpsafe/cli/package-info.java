/** Placeholder until the CLI lands. */
package org.mpsafe.cli;
