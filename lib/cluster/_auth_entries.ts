/**
 * The cluster's `banter_auth` bucket as raw text entries (the contract of
 * issue 17: key `credentials` holds a `credentials.json`'s text, `lockouts`
 * a `lockout.json`'s, `tokens` a `tokens.json`'s), changed with
 * compare-and-set through a {@linkcode KvMirror}.
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { AUTH_BUCKET, createAuthBucket, DEFAULT_MAX_PAYLOAD } from "./kv_json_document.ts";
import { KvMirror } from "./kv_mirror.ts";

/** The auth bucket's entries, as text. */
export class AuthEntries implements AsyncDisposable {
  #mirror: KvMirror<string>;
  #maxPayload: number;

  private constructor(mirror: KvMirror<string>, maxPayload: number) {
    this.#mirror = mirror;
    this.#maxPayload = maxPayload;
  }

  /**
   * Create or bind the bucket and load it.
   *
   * @param nc The cluster connection.
   * @param replicas Copies of the bucket.
   * @returns The entries.
   */
  static async open(nc: NatsConnection, replicas: number): Promise<AuthEntries> {
    const kv = await createAuthBucket(nc, replicas);
    const mirror = await KvMirror.open(kv, {
      js: jetstream(nc),
      decode: (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
      encode: (text) => new TextEncoder().encode(text),
    });
    return new AuthEntries(mirror, nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD);
  }

  /** The entry's text, if stored. */
  get(key: string): string | undefined {
    return this.#mirror.get(key);
  }

  /**
   * Change an entry with compare-and-set; `change` may run more than once
   * (after a conflict, on the newer text) and returns `undefined` to leave
   * the entry as it is.
   *
   * @param key The entry.
   * @param change Current text to next.
   * @throws {RangeError} When the next text is over the servers' `max_payload`.
   */
  async update(key: string, change: (current: string | undefined) => string | undefined) {
    await this.#mirror.update(key, (current) => {
      const next = change(current);
      if (next === undefined) return current;
      const size = new TextEncoder().encode(next).length;
      if (size > this.#maxPayload) {
        throw new RangeError(
          `Cannot store ${AUTH_BUCKET}/${key}: it would be ${size} bytes, over the servers' max_payload of ${this.#maxPayload}`,
        );
      }
      return next;
    });
  }

  /**
   * Change an entry by a merge into its text, with compare-and-set (the
   * merge runs again on the newer text after a conflict).
   *
   * @param key The entry.
   * @param merge Current text to the next text (`undefined`: no change) and counts.
   * @returns What the last run of `merge` gave: the one written.
   * @throws {RangeError} When the next text is over the servers' `max_payload`.
   */
  async merge<M extends { readonly text: string | undefined }>(
    key: string,
    merge: (current: string | undefined) => M,
  ): Promise<M> {
    let merged: M | undefined;
    await this.update(key, (current) => {
      merged = merge(current);
      return merged.text;
    });
    return merged!;
  }

  /** Stop following the bucket. */
  close(): Promise<void> {
    return this.#mirror.close();
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
