/**
 * How long the sessions of one server may keep its event loop in one turn.
 *
 * Reads that find their bytes already buffered settle without a trip
 * through the event loop (Deno's WebSocket hands over every buffered
 * message in one chain of promises; node:tls reads every readable socket
 * in one poll), so a burst from many clients can be read and handled in a
 * single turn lasting seconds on a loaded machine, while every write,
 * `drain`, timer and /metrics request waits for that turn to end: the
 * deliveries stop, and the outboxes fill towards their bound although the
 * clients read. Sessions therefore ask {@linkcode TurnBudget.spend} before
 * each frame; once the turn has run for the budget, they wait for the next
 * one (one timer for all of them) and the rest of the server runs.
 *
 * The next turn is a 0 ms timer, not `setImmediate` or a `MessageChannel`:
 * on Deno 2.9.6 a chain of either starves socket I/O (in a probe doing 1 ms
 * of work per hop, an echo socket got 4 of 50 answers in 500
 * `setImmediate` hops and none over a `MessageChannel`, all 50 with
 * `setTimeout(0)`). Deno clamps nested 0 ms timers to a few ms, so a long
 * burst may idle that long between turns when nothing else waits.
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../util/clock.ts";

/** How long sessions may handle frames in one turn of the event loop, ms. */
export const DEFAULT_TURN_MS = 10;

/** Options for {@linkcode TurnBudget}. */
export interface TurnBudgetOptions {
  /** Longest time frames are handled in one turn, ms. @default {DEFAULT_TURN_MS} */
  turnMs?: number;
  /** The time, and the timer that marks the next turn. @default systemClock */
  clock?: Clock;
}

/**
 * One server's budget of time per turn of the event loop for handling
 * frames. A turn starts with the first {@linkcode spend} after the last one
 * ended, and ends when a 0 ms timer set then fires, which the event loop
 * runs only after the I/O that waits.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { TurnBudget } from "./turn_budget.ts";
 * import { systemClock } from "../util/clock.ts";
 *
 * let now = 0;
 * const budget = new TurnBudget({ turnMs: 10, clock: { ...systemClock, now: () => now } });
 * equal(budget.spend(), undefined); // the turn starts: go on
 * now = 10; // ten ms of work later
 * const next = budget.spend();
 * ok(next instanceof Promise); // wait for the next turn
 * await next;
 * equal(budget.spend(), undefined);
 * ```
 */
export class TurnBudget {
  readonly #turnMs: number;
  readonly #clock: Clock;
  #startedAt = 0;
  /** Resolves when the current turn ends; undefined between turns. */
  #next: PromiseWithResolvers<void> | undefined;
  #timer: TimerId | undefined;
  #disposed = false;
  readonly #end = () => {
    const next = this.#next;
    this.#next = undefined;
    this.#timer = undefined;
    next?.resolve();
  };

  /**
   * @param options Budget and clock.
   * @throws {RangeError} When the budget is not a positive time.
   */
  constructor(options: TurnBudgetOptions = {}) {
    const turnMs = options.turnMs ?? DEFAULT_TURN_MS;
    if (!(turnMs > 0) || !Number.isFinite(turnMs)) {
      throw new RangeError(`Cannot budget turns: ${turnMs} ms is not a positive time`);
    }
    this.#turnMs = turnMs;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Ask to handle one more frame in this turn.
   *
   * @returns Undefined when it may be handled now; else a promise that
   *   resolves when the next turn starts (shared by every caller).
   */
  spend(): Promise<void> | undefined {
    if (this.#disposed) return undefined;
    const now = this.#clock.now();
    if (this.#next === undefined) {
      this.#startedAt = now;
      this.#next = Promise.withResolvers();
      this.#timer = this.#clock.setTimeout(this.#end, 0);
      return undefined;
    }
    return now - this.#startedAt >= this.#turnMs ? this.#next.promise : undefined;
  }

  /** Stop the timer (shutdown): whoever waits goes on now, and from now on nobody waits. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#end();
  }
}
