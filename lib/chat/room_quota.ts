/**
 * How many rooms one account may create: a token bucket per account
 * ({@linkcode ROOMS_CREATED_PER_HOUR} at once, refilling over an hour), so
 * one account cannot fill the server's room cap with junk rooms by joining
 * and parting. The state is bounded: at most `maxEntries` accounts are
 * tracked; past it full buckets are forgotten first (that loses nothing),
 * then the oldest.
 *
 * @module
 */
import type { TimeSource } from "../util/clock.ts";
import { TokenBucket } from "./rate_limit.ts";

/** Rooms one account may create in an hour (and at once). */
export const ROOMS_CREATED_PER_HOUR = 10;

/** Accounts whose room-creation state is kept by default. */
export const DEFAULT_MAX_QUOTA_ENTRIES = 10_000;

/** Options for {@linkcode RoomQuota}. */
export interface RoomQuotaOptions {
  /** Rooms per account per hour. @default {ROOMS_CREATED_PER_HOUR} */
  perHour?: number;
  /** Accounts tracked at once. @default {DEFAULT_MAX_QUOTA_ENTRIES} */
  maxEntries?: number;
}

/**
 * Per-account room-creation budget on an injected clock.
 *
 * @example Ten rooms at once, the eleventh an hour later
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { RoomQuota } from "./room_quota.ts";
 * let now = 0;
 * const quota = new RoomQuota({ now: () => now });
 * for (let i = 0; i < 10; i++) equal(quota.take("alice"), true);
 * equal(quota.take("alice"), false);
 * equal(quota.take("bob"), true);
 * now += 360_000;
 * equal(quota.take("alice"), true);
 * ```
 */
export class RoomQuota {
  #clock: TimeSource;
  #perHour: number;
  #maxEntries: number;
  #buckets = new Map<string, TokenBucket>();

  /**
   * @param clock Time for the refill.
   * @param options The rate and the bound on tracked accounts.
   * @throws {RangeError} When a number is not a positive integer.
   */
  constructor(clock: TimeSource, options: RoomQuotaOptions = {}) {
    this.#clock = clock;
    this.#perHour = positive("perHour", options.perHour ?? ROOMS_CREATED_PER_HOUR);
    this.#maxEntries = positive("maxEntries", options.maxEntries ?? DEFAULT_MAX_QUOTA_ENTRIES);
  }

  /** Rooms per account per hour. */
  get perHour(): number {
    return this.#perHour;
  }

  /** Accounts tracked now (at most `maxEntries`). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Spend one room creation of `account`.
   *
   * @param account The account's key.
   * @returns `false` when it has created its share this hour.
   */
  take(account: string): boolean {
    let bucket = this.#buckets.get(account);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxEntries) this.#evict();
      bucket = new TokenBucket(this.#clock, {
        burst: this.#perHour,
        perSecond: this.#perHour / 3600,
      });
      this.#buckets.set(account, bucket);
    }
    return bucket.take();
  }

  #evict(): void {
    for (const [account, bucket] of this.#buckets) {
      if (bucket.full) this.#buckets.delete(account);
    }
    const oldest = this.#buckets.keys().next();
    if (this.#buckets.size >= this.#maxEntries && !oldest.done) this.#buckets.delete(oldest.value);
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Cannot use ${name} ${value}: it must be a positive integer`);
  }
  return value;
}
