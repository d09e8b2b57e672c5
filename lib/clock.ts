/**
 * Time and randomness, injected everywhere the core needs them so that tests
 * can fake both.
 *
 * @module
 */

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** A source of randomness. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** `n` cryptographically random bytes. */
  bytes(n: number): Uint8Array;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** The real randomness (Web Crypto for bytes). */
export const systemRandom: Random = {
  float: () => Math.random(),
  bytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
};
