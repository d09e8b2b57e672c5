/**
 * The latest revision of every key of one NATS KV bucket, followed with a
 * headers-only ordered consumer (no values travel), and a sync point: one
 * small round trip (the bucket's stream info) says which sequence the
 * stream has reached, and {@linkcode KvRevisions.sync} waits until the
 * follower has seen that far. After it, a key's revision here is at least
 * what any writer had stored when the sync started, so "has this key
 * changed?" costs one round trip and no value, however large.
 *
 * @module
 */
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { WATCH_PULL_EXPIRES_MS } from "./kv_mirror.ts";

/** Bound on the follower catching up with the stream in a sync. */
export const REVISIONS_SYNC_MS = 2_000;

/** Revisions of a bucket's keys; see the module doc. */
export class KvRevisions implements AsyncDisposable {
  #kv: KV;
  #revisions = new Map<string, number>();
  /** The highest stream sequence the follower has seen. */
  #seen = 0;
  #waiters = new Set<{ seq: number; resolve: () => void }>();
  /** A sync asked for whose request is not sent yet. */
  #next: Promise<boolean> | undefined;
  #stop: () => void = () => {};
  #closed: Promise<void> = Promise.resolve();

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /**
   * Start following `kv`'s keys.
   *
   * @param kv The bucket.
   * @param js The JetStream client of the bucket's connection.
   * @returns The follower (it catches up by itself; {@linkcode sync} waits for it).
   */
  static async open(kv: KV, js: JetStreamClient): Promise<KvRevisions> {
    const revisions = new KvRevisions(kv);
    const status = await kv.status();
    const prefix = `$KV.${status.bucket}.`;
    const consumer = await js.consumers.get(status.streamInfo.config.name, {
      filter_subjects: `${prefix}>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
      headers_only: true,
    });
    const messages = await consumer.consume({
      expires: WATCH_PULL_EXPIRES_MS,
      callback: (msg) => revisions.#see(msg.subject.slice(prefix.length), msg.seq),
    });
    revisions.#stop = () => messages.stop();
    revisions.#closed = messages.closed().then(() => undefined, () => undefined);
    return revisions;
  }

  #see(key: string, seq: number): void {
    if (seq > (this.#revisions.get(key) ?? 0)) this.#revisions.set(key, seq);
    if (seq <= this.#seen) return;
    this.#seen = seq;
    for (const waiter of this.#waiters) {
      if (waiter.seq <= seq) waiter.resolve();
    }
  }

  /**
   * The latest revision of `key` seen (that of a delete marker too).
   *
   * @param key The key.
   * @returns The revision; 0 when the key was never seen.
   */
  revision(key: string): number {
    return this.#revisions.get(key) ?? 0;
  }

  /**
   * Ask the stream how far it is and wait until the follower has seen that far.
   *
   * @returns `true` when caught up; `false` when the follower did not catch
   * up within {@linkcode REVISIONS_SYNC_MS} (the caller asks for the entry itself).
   * @throws {Error} When the stream info cannot be had (the link is down).
   */
  sync(): Promise<boolean> {
    // Callers in the same turn (the accounts and the lockouts, before a
    // login) share one request, sent after all of them asked.
    this.#next ??= Promise.resolve().then(() => {
      this.#next = undefined;
      return this.#sync();
    });
    return this.#next;
  }

  async #sync(): Promise<boolean> {
    const last = (await this.#kv.status()).streamInfo.state.last_seq;
    if (this.#seen >= last) return true;
    const caughtUp = Promise.withResolvers<void>();
    const waiter = { seq: last, resolve: caughtUp.resolve };
    this.#waiters.add(waiter);
    const signal = AbortSignal.timeout(REVISIONS_SYNC_MS);
    const timedOut = new Promise<boolean>((resolve) =>
      signal.addEventListener("abort", () => resolve(false), { once: true })
    );
    try {
      return await Promise.race([caughtUp.promise.then(() => true), timedOut]);
    } finally {
      this.#waiters.delete(waiter);
    }
  }

  /** Stop following. */
  async close(): Promise<void> {
    this.#stop();
    await this.#closed;
    for (const waiter of this.#waiters) waiter.resolve();
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
