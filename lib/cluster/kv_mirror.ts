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
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { headers, nuid } from "@nats-io/transport-node";
import { type Clock, systemClock } from "../util/clock.ts";
import { followStream } from "./stream_follower.ts";
import { retryTransient, TRANSIENT_DEADLINE_MS } from "./transient.ts";

/** Tries of one update before it gives up (each a fresh read and a CAS). */
export const MAX_CAS_TRIES = 20;

/**
 * Bound on one try of a write's acknowledgement. A write that no server took
 * (a replicated bucket between leaders) or that timed out (its NATS node
 * lost, the link being re-established) is sent again as it was, with the
 * same message id and the same expected revision, every
 * `TRANSIENT_RETRY_MS`: one that was stored after all is answered
 * "duplicate" by the bucket's duplicate window (2 minutes), with its
 * revision, so no write is applied twice or taken for done when it was not.
 * (A guess from the stored bytes, as before, took another instance's equal
 * value for its own and lost an increment when a node died.)
 */
export const KV_WRITE_TIMEOUT_MS = 2_000;

/** How long one update keeps trying through transient failures before the error is the caller's. */
export const KV_UPDATE_DEADLINE_MS = TRANSIENT_DEADLINE_MS;

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

/** One write of an update: its bytes (none: a delete), the revision it follows, its message id. */
interface Write {
  readonly bytes: Uint8Array | undefined;
  readonly after: number;
  readonly msgID: string;
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
  /** Time for the retries and the follower's stall checks. @default systemClock */
  clock?: Clock;
}

/** What an update does with the current value: the next one, `undefined` to delete. */
export type Change<T> = (current: T | undefined) => T | undefined;

/** A KV bucket mirrored in memory; see the module doc. */
export class KvMirror<T> implements AsyncDisposable {
  #kv: KV;
  #options: KvMirrorOptions<T>;
  #held = new Map<string, Held<T>>();
  /** Keys whose newest entry did not decode, with its revision: absent here, overwritten by the next change. */
  #undecodable = new Map<string, number>();
  /** The last update of each key in flight here: one instance writes a key one at a time. */
  #writing = new Map<string, Promise<unknown>>();
  #listeners = new Set<(key: string, value: T | undefined) => void>();
  #stop: () => Promise<void> = () => Promise.resolve();
  /** `$KV.<bucket>.`: a key's subject is this and the key. */
  #subjectPrefix = "";

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
    const status = await retryTransient(() => this.#kv.status(), this.#retryOptions());
    const loaded = Promise.withResolvers<void>();
    if (status.values === 0) loaded.resolve();
    // The bucket's own stream, followed with an ordered consumer that is
    // made again from the last revision seen when it is lost (its NATS node
    // died): the client's KV watch does not come back then.
    const prefix = `$KV.${status.bucket}.`;
    this.#subjectPrefix = prefix;
    const follower = await followStream(this.#options.js, {
      stream: status.streamInfo.config.name,
      filter: `${prefix}>`,
      from: "last-per-subject",
      ...(this.#options.clock === undefined ? {} : { clock: this.#options.clock }),
      onMessage: (msg) => {
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
    this.#stop = () => follower.stop();
    const timeoutMs = this.#options.loadTimeoutMs ?? MIRROR_LOAD_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    const timedOut = Promise.withResolvers<never>();
    const onAbort = () =>
      timedOut.reject(new Error(`Cannot load the bucket: not loaded within ${timeoutMs} ms`));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([loaded.promise, timedOut.promise]);
    } catch (error) {
      await follower.stop();
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #retryOptions(): { clock?: Clock } {
    return this.#options.clock === undefined ? {} : { clock: this.#options.clock };
  }

  /** Take a watched entry in, unless a newer revision is held already. */
  #apply(entry: Pick<KvEntry, "key" | "revision" | "operation" | "value">): void {
    const held = this.#held.get(entry.key);
    if (held !== undefined && held.revision >= entry.revision) return;
    const bad = this.#undecodable.get(entry.key);
    if (bad !== undefined && bad >= entry.revision) return;
    if (entry.operation !== "PUT") {
      this.#undecodable.delete(entry.key);
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
      // Absent at this revision: the next change overwrites it rather than
      // losing every compare-and-set to it.
      this.#undecodable.set(entry.key, entry.revision);
      if (this.#held.delete(entry.key)) this.#tell(entry.key, undefined);
      return;
    }
    this.#undecodable.delete(entry.key);
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
    const clock = this.#options.clock ?? systemClock;
    const deadline = clock.now() + KV_UPDATE_DEADLINE_MS;
    // No server took it, or no answer in time (a NATS node lost, leaders
    // being elected, the link being re-established): the same request again.
    const patiently = <R>(request: () => Promise<R>) =>
      retryTransient(request, { clock, deadlineMs: Math.max(0, deadline - clock.now()) });
    // A key whose entry did not decode counts as absent at that entry's revision.
    const bad = this.#undecodable.get(key);
    let base: { value: T | undefined; revision: number } | undefined = this.#held.get(key) ??
      (bad === undefined ? undefined : { value: undefined, revision: bad });
    let conflicts = 0;
    // One message id for this update, however often it is sent and whatever
    // base it is computed from: a try that timed out but was stored is
    // answered "duplicate" by the next one. On an R3 bucket the expected
    // revision is checked first, so a resend of a stored try is answered
    // "wrong last sequence"; it is then computed again from what is stored
    // and sent with the same id at that revision, and only the duplicate
    // check can answer it: stored once, never applied twice.
    const msgID = nuid.next();
    for (;;) {
      base ??= await patiently(() => this.#read(key));
      const next = change(base.value);
      if (next === base.value || (next === undefined && base.revision === 0)) return next;
      const write: Write = {
        bytes: next === undefined ? undefined : this.#options.encode(next),
        after: base.revision,
        msgID,
      };
      let revision: number;
      try {
        const ack = await patiently(() => this.#write(key, write));
        if (ack.duplicate) {
          // An earlier try of this update was stored: what is stored now holds it.
          return (await patiently(() => this.#read(key))).value;
        }
        revision = ack.seq;
      } catch (error) {
        if (!isConflict(error)) throw error;
        this.#options.onConflict?.();
        if (++conflicts >= MAX_CAS_TRIES) {
          throw new CasConflictError(
            `Cannot update ${key}: ${conflicts} compare-and-sets lost to other writers`,
          );
        }
        base = undefined;
        continue;
      }
      if (next !== undefined) this.#applyOwn(key, next, revision);
      else if (this.#held.delete(key)) this.#tell(key, undefined);
      return next;
    }
  }

  /**
   * Store `write` (a value, or a delete marker when it has no bytes) if the
   * key is still at `write.after`, as the KV client does, plus a message id.
   */
  async #write(key: string, write: Write): Promise<{ seq: number; duplicate: boolean }> {
    const marker = headers();
    if (write.bytes === undefined) marker.set(KV_OPERATION_HEADER, "DEL");
    const ack = await this.#options.js.publish(
      `${this.#subjectPrefix}${key}`,
      write.bytes ?? new Uint8Array(),
      {
        msgID: write.msgID,
        expect: { lastSubjectSequence: write.after },
        timeout: KV_WRITE_TIMEOUT_MS,
        ...(write.bytes === undefined ? { headers: marker } : {}),
      },
    );
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  #applyOwn(key: string, value: T | undefined, revision: number): void {
    const held = this.#held.get(key);
    if (held !== undefined && held.revision >= revision) return;
    if (value === undefined) return;
    this.#undecodable.delete(key);
    this.#held.set(key, { value, revision });
    this.#tell(key, value);
  }

  /** The stored value and revision (that of a delete marker too; 0 when never stored). */
  async #read(key: string): Promise<{ value: T | undefined; revision: number }> {
    const entry = await this.#kv.get(key);
    if (entry === null) return { value: undefined, revision: 0 };
    if (entry.operation !== "PUT") return { value: undefined, revision: entry.revision };
    try {
      return { value: this.#options.decode(entry.value), revision: entry.revision };
    } catch (error) {
      this.#options.onBadEntry?.(key, error as Error);
      return { value: undefined, revision: entry.revision };
    }
  }

  /** Stop following the bucket. */
  async close(): Promise<void> {
    await this.#stop();
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
