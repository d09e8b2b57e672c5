/**
 * The hub's rate state per account, kept across sessions and bounded in
 * number: {@linkcode RateStates}.
 *
 * @module
 */
import type { TimeSource } from "../util/clock.ts";
import { TokenBucket, type TokenBucketOptions } from "./rate_limit.ts";

/**
 * One {@linkcode TokenBucket} per account, at most `maxEntries` of them.
 * An account's bucket outlives its sessions while not full, so logging in
 * again does not refill it.
 */
export class RateStates {
  #clock: TimeSource;
  #rate: TokenBucketOptions;
  #maxEntries: number;
  #buckets = new Map<string, TokenBucket>();

  /**
   * @param clock The time source the buckets refill by.
   * @param options The rate of every bucket and how many buckets are kept.
   */
  constructor(
    clock: TimeSource,
    options: { readonly rate: TokenBucketOptions; readonly maxEntries: number },
  ) {
    this.#clock = clock;
    this.#rate = options.rate;
    this.#maxEntries = options.maxEntries;
  }

  /**
   * The account's bucket, kept from its earlier sessions if not full.
   *
   * @param account The account's key.
   * @param isOnline Whether an account is online; an online account's bucket is never evicted.
   * @returns The bucket.
   */
  bucketOf(account: string, isOnline: (account: string) => boolean): TokenBucket {
    let bucket = this.#buckets.get(account);
    if (bucket !== undefined) return bucket;
    if (this.#buckets.size >= this.#maxEntries) this.#evict(isOnline);
    bucket = new TokenBucket(this.#clock, this.#rate);
    this.#buckets.set(account, bucket);
    return bucket;
  }

  /**
   * Forget an account's bucket when it is full (nothing to remember).
   *
   * @param account The account's key.
   * @param bucket Its bucket.
   */
  release(account: string, bucket: TokenBucket): void {
    if (bucket.full) this.#buckets.delete(account);
  }

  /** Make room: drop full buckets of accounts not online, else the oldest. */
  #evict(isOnline: (account: string) => boolean): void {
    let oldest: string | undefined;
    for (const [account, bucket] of this.#buckets) {
      if (isOnline(account)) continue;
      if (bucket.full) this.#buckets.delete(account);
      else oldest ??= account;
    }
    if (this.#buckets.size >= this.#maxEntries && oldest !== undefined) {
      this.#buckets.delete(oldest);
    }
  }
}
