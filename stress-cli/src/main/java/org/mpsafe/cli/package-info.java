/**
 * The stress CLI: {@code mpsafe repro} runs PR kern/51632's reproduction steps on a machine of
 * virtual CPUs and shows the race (live status, the panic with the detectors' cause and a trace
 * timeline), or proves the fix (a clean run). Entry point {@link MpsafeCli};
 * options and exit codes in {@code ReproCommand}. Jackson, picocli and HdrHistogram are used
 * here only.
 */
package org.mpsafe.cli;
