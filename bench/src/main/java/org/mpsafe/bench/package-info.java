/** Placeholder until the benchmarks land. */
package org.mpsafe.bench;
