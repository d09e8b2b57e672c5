/**
 * One NATS KV bucket held in memory and kept current from a KV watch, so the
 * server's synchronous store interfaces can read it at once; every write is a
 * compare-and-set on the entry's revision, retried on a conflict (another
 * instance wrote the key first) with the change applied again to the newer
 * value, so no update is lost when two instances write at once.
 *
 * Reads are eventually consistent (an instance sees another's write when its
 * watch delivers it, normally within a round trip); writes are consistent
 * (each one is applied to the latest revision the stream holds).
 *
 * @module
 */
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
} from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { delay } from "@nats-io/transport-node";

/** Tries of one update before it gives up (each a fresh read and a CAS). */
export const MAX_CAS_TRIES = 20;

/**
 * Bound on one try of a write's acknowledgement; a write lost with a NATS
 * node times out and is checked and tried again (see below).
 */
export const KV_WRITE_TIMEOUT_MS = 2_000;

/**
 * Pause before a write is tried again when no server took it (a replicated
 * bucket between leaders, a link being re-established). Such a write was
 * surely not stored, so trying it again cannot apply it twice. A timed-out
 * one might have been: the key is read again, and when it holds exactly the
 * bytes written (at a newer revision) the write counts as done; otherwise
 * the change is applied again to what is stored. So a change must be
 * idempotent in effect (set a value, add to a set, move a marker forward),
 * as every store here is: a counter could count twice.
 */
export const KV_UNAVAILABLE_RETRY_MS = 250;

/** Tries of a write no server took (or that timed out), before the error is the caller's. */
export const KV_UNAVAILABLE_TRIES = 40;

/** How long one pull of the bucket's follower waits; its heartbeat is half that. */
export const WATCH_PULL_EXPIRES_MS = 2_000;

/** The header a KV delete or purge marker carries. */
const KV_OPERATION_HEADER = "KV-Operation";

/** Bound on the first load of a bucket into memory. */
export const MIRROR_LOAD_MS = 10_000;

/** An update lost its compare-and-set {@linkcode MAX_CAS_TRIES} times in a row. */
export class CasConflictError extends Error {
  /**
   * @param message Which key, how many tries.
   */
  constructor(message: string) {
    super(message);
    this.name = "CasConflictError";
  }
}

/** A held value and the revision it was stored at. */
interface Held<T> {
  readonly value: T;
  readonly revision: number;
}

/** Options for {@linkcode KvMirror.open}. */
export interface KvMirrorOptions<T> {
  /** The JetStream client of the bucket's connection (the bucket is followed with it). */
  js: JetStreamClient;
  /** Bytes of an entry to a value; throw a SyntaxError when they do not parse. */
  decode(bytes: Uint8Array): T;
  /** A value to the bytes stored. */
  encode(value: T): Uint8Array;
  /** Called once per lost compare-and-set (for `/metrics`). */
  onConflict?: () => void;
  /** Called for an entry that does not decode; it is left out of the mirror. */
  onBadEntry?: (key: string, error: Error) => void;
  /** Bound on the first load. @default {MIRROR_LOAD_MS} */
  loadTimeoutMs?: number;
}

/** What an update does with the current value: the next one, `undefined` to delete. */
export type Change<T> = (current: T | undefined) => T | undefined;

/** A KV bucket mirrored in memory; see the module doc. */
export class KvMirror<T> implements AsyncDisposable {
  #kv: KV;
  #options: KvMirrorOptions<T>;
  #held = new Map<string, Held<T>>();
  /** The last update of each key in flight here: one instance writes a key one at a time. */
  #writing = new Map<string, Promise<unknown>>();
  #listeners = new Set<(key: string, value: T | undefined) => void>();
  #stop: () => void = () => {};
  #watching: Promise<void> = Promise.resolve();

  private constructor(kv: KV, options: KvMirrorOptions<T>) {
    this.#kv = kv;
    this.#options = options;
  }

  /**
   * Load `kv` into memory and follow it.
   *
   * @param kv The bucket.
   * @param options How values are stored; conflict and bad-entry reports.
   * @returns The mirror, holding every key the bucket held when it was opened.
   * @throws {Error} When the watch cannot start or the load takes too long.
   */
  static async open<T>(kv: KV, options: KvMirrorOptions<T>): Promise<KvMirror<T>> {
    const mirror = new KvMirror(kv, options);
    await mirror.#start();
    return mirror;
  }

  async #start(): Promise<void> {
    const status = await this.#kv.status();
    const loaded = Promise.withResolvers<void>();
    if (status.values === 0) loaded.resolve();
    // The bucket's own stream, followed with an ordered consumer: unlike the
    // client's KV watch, it is re-created from the last revision seen when
    // the NATS node serving it is lost.
    const prefix = `$KV.${status.bucket}.`;
    const consumer = await this.#options.js.consumers.get(status.streamInfo.config.name, {
      filter_subjects: `${prefix}>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const messages = await consumer.consume({
      expires: WATCH_PULL_EXPIRES_MS,
      callback: (msg) => {
        const operation = msg.headers?.get(KV_OPERATION_HEADER);
        this.#apply({
          key: msg.subject.slice(prefix.length),
          revision: msg.seq,
          operation: operation === "DEL" || operation === "PURGE" ? operation : "PUT",
          value: msg.data,
        });
        if (msg.info.pending === 0) loaded.resolve();
      },
    });
    this.#stop = () => messages.stop();
    this.#watching = messages.closed().then(() => undefined, () => undefined);
    const timeoutMs = this.#options.loadTimeoutMs ?? MIRROR_LOAD_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    const timedOut = Promise.withResolvers<never>();
    const onAbort = () =>
      timedOut.reject(new Error(`Cannot load the bucket: not loaded within ${timeoutMs} ms`));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([loaded.promise, timedOut.promise]);
    } catch (error) {
      messages.stop();
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Take a watched entry in, unless a newer revision is held already. */
  #apply(entry: Pick<KvEntry, "key" | "revision" | "operation" | "value">): void {
    const held = this.#held.get(entry.key);
    if (held !== undefined && held.revision >= entry.revision) return;
    if (entry.operation !== "PUT") {
      if (held === undefined) return;
      this.#held.delete(entry.key);
      this.#tell(entry.key, undefined);
      return;
    }
    let value: T;
    try {
      value = this.#options.decode(entry.value);
    } catch (error) {
      this.#options.onBadEntry?.(entry.key, error as Error);
      return;
    }
    this.#held.set(entry.key, { value, revision: entry.revision });
    this.#tell(entry.key, value);
  }

  #tell(key: string, value: T | undefined): void {
    for (const listener of this.#listeners) listener(key, value);
  }

  /** The value of `key` as this instance knows it now. */
  get(key: string): T | undefined {
    return this.#held.get(key)?.value;
  }

  /** Every key and value held, in no particular order. */
  *entries(): IterableIterator<[string, T]> {
    for (const [key, held] of this.#held) yield [key, held.value];
  }

  /** How many keys are held. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Call `listener` on every change seen, own or another instance's.
   *
   * @returns The unsubscribe.
   */
  onChange(listener: (key: string, value: T | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Change `key` with compare-and-set: `change` gets the current value (the
   * held one first, the stored one after a conflict) and returns the next,
   * `undefined` to delete, or the current value itself to leave it as it is.
   * It may run several times, so it must not have side effects. Updates
   * of one key from this instance run one after another, so conflicts come
   * only from other instances.
   *
   * @param key The key (NATS KV key characters only; see {@linkcode kvToken}).
   * @param change Current to next.
   * @returns The value stored (or kept, or `undefined` when deleted).
   * @throws {CasConflictError} After {@linkcode MAX_CAS_TRIES} lost compare-and-sets.
   */
  update(key: string, change: Change<T>): Promise<T | undefined> {
    const previous = this.#writing.get(key) ?? Promise.resolve();
    const done = previous.catch(() => undefined).then(() => this.#update(key, change));
    const settled = done.catch(() => undefined);
    this.#writing.set(key, settled);
    void settled.then(() => {
      if (this.#writing.get(key) === settled) this.#writing.delete(key);
    });
    return done;
  }

  async #update(key: string, change: Change<T>): Promise<T | undefined> {
    let current: { value: T | undefined; revision: number } = this.#held.get(key) ??
      await this.#read(key);
    let unavailable = 0;
    for (let tries = 1;; tries++) {
      const next = change(current.value);
      if (next === current.value) return next;
      try {
        const revision = next === undefined
          ? await this.#delete(key, current.revision)
          : await this.#kv.put(key, this.#options.encode(next), {
            previousSeq: current.revision,
            timeout: KV_WRITE_TIMEOUT_MS,
          });
        if (revision !== undefined) this.#applyOwn(key, next, revision);
        return next;
      } catch (error) {
        if (isUnavailable(error) && ++unavailable < KV_UNAVAILABLE_TRIES) {
          tries--;
          await delay(KV_UNAVAILABLE_RETRY_MS);
          continue;
        }
        if (isTimeout(error) && ++unavailable < KV_UNAVAILABLE_TRIES) {
          // Maybe stored: if the key now holds exactly what was written, it was.
          const stored = await this.#readRaw(key);
          const wanted = next === undefined ? undefined : this.#options.encode(next);
          if (stored.revision > current.revision && sameBytes(stored.bytes, wanted)) {
            if (next !== undefined) this.#applyOwn(key, next, stored.revision);
            else if (this.#held.delete(key)) this.#tell(key, undefined);
            return next;
          }
          tries--;
          current = await this.#read(key);
          continue;
        }
        if (!isConflict(error)) throw error;
        this.#options.onConflict?.();
        if (tries >= MAX_CAS_TRIES) {
          throw new CasConflictError(
            `Cannot update ${key}: ${tries} compare-and-sets lost to other writers`,
          );
        }
        current = await this.#read(key);
      }
    }
  }

  /** Delete at `revision`; a key that was never stored needs nothing. */
  async #delete(key: string, revision: number): Promise<number | undefined> {
    if (revision === 0) return undefined;
    await this.#kv.delete(key, { previousSeq: revision });
    // The DEL marker's revision arrives with the watch; drop the value now.
    if (this.#held.delete(key)) this.#tell(key, undefined);
    return undefined;
  }

  #applyOwn(key: string, value: T | undefined, revision: number): void {
    const held = this.#held.get(key);
    if (held !== undefined && held.revision >= revision) return;
    if (value === undefined) return;
    this.#held.set(key, { value, revision });
    this.#tell(key, value);
  }

  /** The stored bytes (undefined when deleted or never stored) and revision. */
  async #readRaw(key: string): Promise<{ bytes: Uint8Array | undefined; revision: number }> {
    const entry = await this.#kv.get(key);
    if (entry === null) return { bytes: undefined, revision: 0 };
    return {
      bytes: entry.operation === "PUT" ? entry.value : undefined,
      revision: entry.revision,
    };
  }

  /** The stored value and revision (that of a delete marker too; 0 when never stored). */
  async #read(key: string): Promise<{ value: T | undefined; revision: number }> {
    const entry = await this.#kv.get(key);
    if (entry === null) return { value: undefined, revision: 0 };
    if (entry.operation !== "PUT") return { value: undefined, revision: entry.revision };
    return { value: this.#options.decode(entry.value), revision: entry.revision };
  }

  /** Stop following the bucket. */
  async close(): Promise<void> {
    this.#stop();
    await this.#watching.catch(() => undefined);
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Whether no server took a request (the client reports it as JetStream not enabled). */
export function isUnavailable(error: unknown): boolean {
  return error instanceof Error && error.name === "JetStreamNotEnabled";
}

/** Whether a request went unanswered in time (it may or may not have been carried out). */
export function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}

/** Whether two stored values are the same bytes (`undefined`: none stored). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Whether a NATS error is a lost compare-and-set. */
export function isConflict(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/**
 * Any text as one NATS KV key token: base64url of its UTF-8 (the characters
 * KV keys allow), so user and room names of any script are safe keys.
 *
 * @param text A name.
 * @returns The token.
 *
 * @example
 * ```ts
 * import { kvToken } from "./kv_mirror.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(kvToken("alice"), "YWxpY2U");
 * equal(kvToken("zoë.x"), "em_Dqy54");
 * ```
 */
export function kvToken(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
