package org.mpsafe.kern;

/**
 * A kernel object with a stable address, printed by {@code %p} in panic messages.
 *
 * <p>Java has no pointers; panic messages still need to print something a reader can match
 * between two lines of one report ({@code psref=0x... target=0x...}). Objects that appear in
 * messages implement this and take an address from {@link Kaddr#alloc()} when constructed.
 */
public interface KObject {
  /** This object's kernel address: unique, stable, never 0. */
  long kaddr();
}
