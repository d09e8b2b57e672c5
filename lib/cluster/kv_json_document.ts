/**
 * The accounts, lockouts and web session tokens of a cluster: one NATS KV
 * bucket, {@linkcode AUTH_BUCKET}, whose three entries hold exactly the text
 * of the embedded server's files (credentials.json, data/lockout.json,
 * data/tokens.json), each opened as a {@linkcode KvJsonDocument} so the
 * account stores of lib/auth run on it unchanged.
 *
 * Every change reads the entry and its revision, applies the change to the
 * parsed value and writes it with compare-and-set on that revision (create
 * when absent); a lost compare-and-set (another instance, or the admin CLI,
 * wrote first) is counted and the change applied again to the newer value,
 * at most {@linkcode MAX_CAS_TRIES} times. Reads go to the stream's leader,
 * never a lagging replica. {@linkcode KvJsonDocument.changed}, asked before
 * every login, costs one small round trip and no value (see `_kv_revisions.ts`).
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { delay, type NatsConnection } from "@nats-io/transport-node";
import type {
  JsonChange,
  JsonDocument,
  JsonDocumentOpener,
  JsonFormat,
} from "../auth/json_document.ts";
import {
  CasConflictError,
  isConflict,
  isTimeout,
  isUnavailable,
  KV_WRITE_TIMEOUT_MS,
  MAX_CAS_TRIES,
  sameBytes,
} from "./kv_mirror.ts";
import { KvRevisions } from "./_kv_revisions.ts";

/** Pause before a write no server took is tried again (an R3 bucket between leaders). */
const KV_UNAVAILABLE_RETRY_MS = 250;

/** Tries of a write no server took, or that timed out, before giving up (~10 s). */
const KV_UNAVAILABLE_TRIES = 40;

/** The bucket of accounts, lockouts and session tokens. */
export const AUTH_BUCKET = "banter_auth";

/** Its entries: each holds the text of the file of the same role. */
export const AUTH_KEYS = {
  /** A credentials.json file (docs/CREDENTIALS.md). */
  credentials: "credentials",
  /** A data/lockout.json file (`Lockout`'s format). */
  lockouts: "lockouts",
  /** A data/tokens.json file (`SessionTokens`' format). */
  tokens: "tokens",
} as const;

/** NATS's default `max_payload`, when the server does not say. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Room kept under `max_payload` for the message's subject and headers. */
export const PAYLOAD_HEADROOM = 1024;

/** Options for {@linkcode KvJsonDocument}. */
export interface KvJsonDocumentOptions {
  /** What the value is, for messages: `accounts`, `lockouts`, `session tokens`. */
  what: string;
  /** The bucket's name, for messages. */
  bucket: string;
  /** Revisions of the bucket's keys, for a cheap {@linkcode KvJsonDocument.changed}. */
  revisions: KvRevisions;
  /** The largest value written, in bytes. @default {DEFAULT_MAX_PAYLOAD - PAYLOAD_HEADROOM} */
  maxBytes?: number;
  /** Called once per lost compare-and-set (for `/metrics`). */
  onConflict?: () => void;
}

interface Stored<T> {
  readonly value: T | undefined;
  readonly bytes: Uint8Array | undefined;
  /** Of the entry or its delete marker; 0 when never stored. */
  readonly revision: number;
}

/** One KV entry as a {@linkcode JsonDocument}; see the module doc. */
export class KvJsonDocument<T extends object> implements JsonDocument<T> {
  readonly #kv: KV;
  readonly #key: string;
  readonly #format: JsonFormat<T>;
  readonly #options: KvJsonDocumentOptions;
  readonly #description: string;
  /** The revision last read or written here; `undefined` before the first. */
  #revision: number | undefined;
  /** Changes from this instance run one after another. */
  #writes: Promise<unknown> = Promise.resolve();

  /**
   * @param kv The bucket (bound with `allow_direct: false`, see {@linkcode AuthBucket}).
   * @param key The entry.
   * @param format How its text is checked and written.
   * @param options What it is, the bucket's revisions, the size bound, conflicts.
   */
  constructor(kv: KV, key: string, format: JsonFormat<T>, options: KvJsonDocumentOptions) {
    this.#kv = kv;
    this.#key = key;
    this.#format = format;
    this.#options = options;
    this.#description = `NATS KV ${options.bucket}/${key}`;
  }

  /** `NATS KV <bucket>/<key>`. */
  get description(): string {
    return this.#description;
  }

  /** The largest value written, in bytes. */
  get maxBytes(): number {
    return this.#options.maxBytes ?? DEFAULT_MAX_PAYLOAD - PAYLOAD_HEADROOM;
  }

  /**
   * Whether the entry has a revision other than the one last read or
   * written here: one small round trip.
   *
   * @returns `true` when another instance (or the admin CLI) wrote it.
   * @throws {Error} When the cluster cannot be asked.
   */
  async changed(): Promise<boolean> {
    const revisions = this.#options.revisions;
    const synced = await this.#asking("read", () => revisions.sync());
    if (synced) return revisions.revision(this.#key) !== this.#revision;
    const entry = await this.#asking("read", () => this.#kv.get(this.#key));
    return (entry?.revision ?? 0) !== this.#revision;
  }

  /** Whether a value is stored (not deleted). */
  async exists(): Promise<boolean> {
    return (await this.#read()).bytes !== undefined;
  }

  /**
   * Read and validate the entry as it is now.
   *
   * @returns The value, or `undefined` when none is stored.
   * @throws {Error} What the format's `invalid` builds for a value that
   * does not parse; why the cluster could not be asked.
   */
  async read(): Promise<T | undefined> {
    const stored = await this.#read();
    this.#revision = stored.revision;
    return stored.value;
  }

  /**
   * Read the entry and its revision, apply `change`, and write its value
   * with compare-and-set; on a lost one, again on the newer value.
   *
   * @param change Current value to new value and result; it may run several times.
   * @returns The change's result.
   * @throws {RangeError} When the new value is over {@linkcode maxBytes}
   * (nothing is written).
   * @throws {CasConflictError} After {@linkcode MAX_CAS_TRIES} lost compare-and-sets.
   * @throws {Error} What `change` throws; what the format builds for a
   * stored value that does not parse; why the cluster could not be written.
   */
  update<R>(change: (current: T | undefined) => JsonChange<T, R>): Promise<R> {
    const done = this.#writes.then(() => this.#update(change));
    this.#writes = done.catch(() => undefined);
    return done;
  }

  async #update<R>(change: (current: T | undefined) => JsonChange<T, R>): Promise<R> {
    let stored = await this.#read();
    let unavailable = 0;
    for (let tries = 1;; tries++) {
      const { value, result } = change(stored.value);
      if (value === undefined) {
        this.#revision = stored.revision;
        return result;
      }
      const bytes = new TextEncoder().encode(this.#format.serialise(value));
      if (bytes.length > this.maxBytes) {
        throw new RangeError(
          `Cannot save ${this.#options.what} to ${this.#description}: the value would be ${bytes.length} bytes, over the limit of ${this.maxBytes} (NATS max_payload)`,
        );
      }
      try {
        this.#revision = await this.#kv.put(this.#key, bytes, {
          previousSeq: stored.revision,
          timeout: KV_WRITE_TIMEOUT_MS,
        });
        return result;
      } catch (error) {
        if (isUnavailable(error) && ++unavailable < KV_UNAVAILABLE_TRIES) {
          tries--;
          await delay(KV_UNAVAILABLE_RETRY_MS);
          continue;
        }
        if (isTimeout(error) && ++unavailable < KV_UNAVAILABLE_TRIES) {
          // Maybe stored: if the entry now holds exactly what was written, it was.
          const now = await this.#read();
          if (now.revision > stored.revision && sameBytes(now.bytes, bytes)) {
            this.#revision = now.revision;
            return result;
          }
          tries--;
          stored = now;
          continue;
        }
        if (!isConflict(error)) throw this.#failed("save", error);
        this.#options.onConflict?.();
        if (tries >= MAX_CAS_TRIES) {
          throw new CasConflictError(
            `Cannot save ${this.#options.what} to ${this.#description}: ${tries} compare-and-sets lost to other writers`,
          );
        }
        stored = await this.#read();
      }
    }
  }

  /** The entry as stored now, parsed. */
  async #read(): Promise<Stored<T>> {
    const entry: KvEntry | null = await this.#asking("read", () => this.#kv.get(this.#key));
    if (entry === null) return { value: undefined, bytes: undefined, revision: 0 };
    if (entry.operation !== "PUT") {
      return { value: undefined, bytes: undefined, revision: entry.revision };
    }
    return { value: this.#parse(entry.value), bytes: entry.value, revision: entry.revision };
  }

  #parse(bytes: Uint8Array): T {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (error) {
      if (!(error instanceof SyntaxError || error instanceof TypeError)) throw error;
      const cause = error instanceof SyntaxError
        ? error
        : new SyntaxError((error as Error).message);
      throw this.#format.invalid("not valid JSON", { cause });
    }
    const value = this.#format.parse(json);
    if (typeof value === "string") throw this.#format.invalid(value);
    return value;
  }

  /** Run a request to the cluster; its failure names the entry. */
  async #asking<V>(action: "read" | "save", request: () => Promise<V>): Promise<V> {
    try {
      return await request();
    } catch (error) {
      throw this.#failed(action, error);
    }
  }

  #failed(action: "read" | "save", error: unknown): Error {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    const where = action === "read" ? "from" : "to";
    return new Error(
      `Cannot ${action} ${this.#options.what} ${where} ${this.#description}: ${reason}`,
      {
        cause: error,
      },
    );
  }
}

/** Options for {@linkcode openAuthBucket}. */
export interface AuthBucketOptions {
  /** Copies of the bucket: 1 on one NATS server, 3 on a 3-node cluster. @default {1} */
  replicas?: number;
  /** Called once per lost compare-and-set of any of its documents (for `/metrics`). */
  onConflict?: () => void;
}

/** The opened {@linkcode AUTH_BUCKET}: its entries as documents. */
export interface AuthBucket extends AsyncDisposable {
  /** The bucket itself (reads go to the stream's leader). */
  readonly kv: KV;
  /**
   * An opener of one entry, for `CredentialStore.openDocument`,
   * `Lockout.openDocument` or `SessionTokens.openDocument`.
   *
   * @param key One of {@linkcode AUTH_KEYS}.
   * @param what What the value is, for messages.
   */
  opener(key: string, what: string): JsonDocumentOpener;
  /** Stop following the bucket's revisions (the connection stays open). */
  close(): Promise<void>;
}

/**
 * Create (or bind) {@linkcode AUTH_BUCKET} and follow its revisions.
 *
 * @param nc The cluster connection.
 * @param options Replicas, conflict counting.
 * @returns The bucket.
 * @throws {Error} When the bucket cannot be created or followed.
 */
/**
 * Create or bind the `banter_auth` bucket, as every writer of it must (the
 * instances, the admin CLI, the migration), so its settings are one.
 *
 * @param nc The cluster connection.
 * @param replicas Copies of the bucket.
 * @returns The bucket.
 */
export async function createAuthBucket(nc: NatsConnection, replicas: number): Promise<KV> {
  // Not direct: a replica may lag its leader, and a login must see the
  // latest lockout.
  return await new Kvm(nc).create(AUTH_BUCKET, { history: 1, replicas, allow_direct: false });
}

export async function openAuthBucket(
  nc: NatsConnection,
  options: AuthBucketOptions = {},
): Promise<AuthBucket> {
  const kv = await createAuthBucket(nc, options.replicas ?? 1);
  const revisions = await KvRevisions.open(kv, jetstream(nc));
  const bucket: AuthBucket = {
    kv,
    opener: (key, what) => (format) =>
      new KvJsonDocument(kv, key, format, {
        what,
        bucket: AUTH_BUCKET,
        revisions,
        maxBytes: (nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - PAYLOAD_HEADROOM,
        ...(options.onConflict ? { onConflict: options.onConflict } : {}),
      }),
    close: () => revisions.close(),
    [Symbol.asyncDispose]: () => revisions.close(),
  };
  return bucket;
}
