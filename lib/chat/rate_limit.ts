/**
 * A token bucket: lets a short burst through, then a steady rate.
 *
 * @module
 */
import type { TimeSource } from "../util/clock.ts";

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens the bucket holds when full: the longest burst allowed. @default 10 */
  burst?: number;
  /** Tokens added per second. @default 2 */
  perSecond?: number;
}

/**
 * A token bucket on an injected clock. It starts full; each {@linkcode take}
 * spends one token; tokens refill continuously at `perSecond`, up to `burst`.
 *
 * @example Ten lines pass, the eleventh waits half a second
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { TokenBucket } from "./rate_limit.ts";
 *
 * let now = 0;
 * const bucket = new TokenBucket({ now: () => now }, { burst: 10, perSecond: 2 });
 * for (let i = 0; i < 10; i++) bucket.take();
 * deepEqual(bucket.take(), false);
 * deepEqual(bucket.waitMs(), 500);
 * now += 500;
 * deepEqual(bucket.take(), true);
 * ```
 */
export class TokenBucket {
  readonly burst: number;
  readonly perSecond: number;
  #clock: TimeSource;
  #tokens: number;
  #last: number;

  /**
   * @param clock Where the time comes from.
   * @param options Burst size and refill rate.
   * @throws {RangeError} When `burst` is below 1 or `perSecond` is not positive.
   */
  constructor(clock: TimeSource, options: TokenBucketOptions = {}) {
    const burst = options.burst ?? 10;
    const perSecond = options.perSecond ?? 2;
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new RangeError(`Cannot create bucket: burst is ${burst}`);
    }
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError(`Cannot create bucket: perSecond is ${perSecond}`);
    }
    this.burst = burst;
    this.perSecond = perSecond;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  /**
   * Spend one token if there is one.
   *
   * @returns `true` when the action may go ahead.
   */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * How long until a token is available.
   *
   * @returns Milliseconds; 0 when one is available now.
   */
  waitMs(): number {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    return Math.ceil((1 - this.#tokens) * 1000 / this.perSecond);
  }

  /**
   * Whether the bucket is full again, so forgetting it loses nothing.
   *
   * @returns `true` when it holds `burst` tokens.
   */
  get full(): boolean {
    this.#refill();
    return this.#tokens >= this.burst;
  }

  #refill(): void {
    const now = this.#clock.now();
    // A clock that steps back must not mint tokens or make waits negative.
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + elapsed * this.perSecond / 1000,
    );
  }
}
