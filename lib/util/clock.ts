/**
 * Time, timers and randomness, injected everywhere the core needs them so that
 * tests can fake all three: a fake clock fires its timers when told to move,
 * so no test waits on real time.
 *
 * @module
 */

/** A source of the current time in milliseconds since the epoch. */
export interface TimeSource {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** An opaque handle for a scheduled callback. */
export type TimerId = number;

/** Schedules callbacks, like the global timer functions. */
export interface Timers {
  /** Run `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): TimerId;
  /** Cancel a timeout; `undefined` and fired timers are ignored. */
  clearTimeout(id: TimerId | undefined): void;
  /** Run `callback` every `ms` milliseconds. */
  setInterval(callback: () => void, ms: number): TimerId;
  /** Cancel an interval; `undefined` is ignored. */
  clearInterval(id: TimerId | undefined): void;
}

/** The current time and timers that follow it. */
export interface Clock extends TimeSource, Timers {}

/** A source of randomness. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** `n` cryptographically random bytes. */
  bytes(n: number): Uint8Array;
}

/** The real clock: `Date.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => Number(setTimeout(callback, ms)),
  clearTimeout: (id) => clearTimeout(id),
  setInterval: (callback, ms) => Number(setInterval(callback, ms)),
  clearInterval: (id) => clearInterval(id),
};

/**
 * Resolve after `ms` on `clock`'s timers, or reject with the signal's reason
 * when `signal` aborts first.
 *
 * @param clock Whose timers to use.
 * @param ms How long to wait.
 * @param signal Stops the wait early.
 * @returns A promise that settles when the time has passed.
 *
 * @example
 * ```ts
 * import { delay, systemClock } from "./clock.ts";
 * await delay(systemClock, 0);
 * ```
 */
export function delay(clock: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(id);
      reject(signal?.reason);
    };
    const id = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The real randomness (Web Crypto for bytes). */
export const systemRandom: Random = {
  float: () => Math.random(),
  bytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
};
