/**
 * Flushes that may wait a little: frames nobody waits on (a room's joins
 * and leaves, presence) held by a busy connection until a short window
 * ends, on one timer for every outbox of a server. A login in a room of N
 * then costs each member about one write per window instead of one write
 * per join (see `Outbox.pushDeferred` in outbox.ts).
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../util/clock.ts";

/** How long a busy connection holds presence frames, ms. */
export const DEFAULT_DEFER_MS = 100;

/** Options for {@linkcode DeferredFlushes}. */
export interface DeferredFlushesOptions {
  /** How long a held frame may wait. @default {DEFAULT_DEFER_MS} */
  windowMs?: number;
  /** The time and the one timer. @default systemClock */
  clock?: Clock;
}

/**
 * One timer that runs the flushes added during its window.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { DeferredFlushes } from "./deferred_flushes.ts";
 * const timers: (() => void)[] = [];
 * const clock = {
 *   now: () => 0,
 *   setTimeout: (run: () => void) => timers.push(run),
 *   clearTimeout: () => {},
 *   setInterval: () => 0,
 *   clearInterval: () => {},
 * };
 * const ran: string[] = [];
 * const later = new DeferredFlushes({ windowMs: 100, clock });
 * later.add(() => ran.push("a"));
 * later.add(() => ran.push("b"));
 * deepEqual(timers.length, 1); // one timer for both
 * timers[0]!();
 * deepEqual(ran, ["a", "b"]);
 * ```
 */
export class DeferredFlushes {
  readonly #clock: Clock;
  /** How long a held frame may wait, ms. */
  readonly windowMs: number;
  #due: (() => void)[] = [];
  #timer: TimerId | undefined;
  #disposed = false;

  /**
   * @param options Window and clock.
   * @throws {RangeError} When the window is not a positive time.
   */
  constructor(options: DeferredFlushesOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_DEFER_MS;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new RangeError(`Cannot defer flushes: window ${windowMs} ms is not a positive time`);
    }
    this.windowMs = windowMs;
    this.#clock = options.clock ?? systemClock;
  }

  /** The time now, on this window's clock. */
  now(): number {
    return this.#clock.now();
  }

  /**
   * Run `flush` when the current window ends (at once after dispose). The
   * caller adds each flush once per window (the outbox keeps its own
   * "deferred" flag).
   *
   * @param flush Schedules one outbox's write; must not throw.
   */
  add(flush: () => void): void {
    if (this.#disposed) return flush();
    this.#due.push(flush);
    this.#timer ??= this.#clock.setTimeout(() => this.#fire(), this.windowMs);
  }

  /** Stop the timer (shutdown): what waits runs now, later flushes at once. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#fire();
  }

  #fire(): void {
    this.#timer = undefined;
    const due = this.#due;
    this.#due = [];
    for (const flush of due) flush();
  }
}
