/**
 * Reconnect delays: 1 s doubling to 60 s, with full jitter in the upper half
 * so a restarted server is not hit by every client at once.
 *
 * @module
 */
import type { Random } from "../util/clock.ts";

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** First delay. @default 1000 */
  initialMs?: number;
  /** Largest delay. @default 60000 */
  maxMs?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based).
 *
 * @param attempt How many attempts have failed.
 * @param random Jitter source.
 * @param options Bounds.
 * @returns Milliseconds to wait, between half and all of the capped doubling.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * const fixed = { float: () => 1 - Number.EPSILON, bytes: (n: number) => new Uint8Array(n) };
 * equal(Math.round(backoffDelay(0, fixed)), 1000);
 * equal(Math.round(backoffDelay(10, fixed)), 60000);
 * ```
 */
export function backoffDelay(
  attempt: number,
  random: Random,
  options: BackoffOptions = {},
): number {
  const initial = options.initialMs ?? 1000;
  const max = options.maxMs ?? 60_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random.float() * (ceiling / 2);
}
