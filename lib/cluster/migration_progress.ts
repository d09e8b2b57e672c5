/**
 * How far the migration of one single-node install has come, in the KV
 * bucket `banter_migrations`, so a second run adds nothing and an
 * interrupted one resumes where it stopped. Keys start with the source's
 * fingerprint ({@linkcode sourceFingerprint}):
 *
 * - `<fp>.progress`: `{"lastOldId": N, "lastSeq": S}`, the highest old
 *   message id stored in the stream and its sequence. Written every
 *   {@linkcode PROGRESS_EVERY} messages and at the end, with compare-and-set,
 *   so two migrations of one install at once stop instead of doubling.
 *   What was stored after it is found again by the migration header each
 *   migrated message carries.
 * - `<fp>.id.<oldId>`: the new sequence of an old message a read marker
 *   points at, written as soon as that message is stored.
 *
 * @module
 */
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { isRecord } from "../util/is_record.ts";

/** The bucket. */
export const MIGRATIONS_BUCKET = "banter_migrations";

/** Messages stored between two progress writes. */
export const PROGRESS_EVERY = 100;

/** Where the message pass stands. */
export interface MessageProgress {
  /** The highest old id stored in the stream (0: none). */
  readonly lastOldId: number;
  /** Its stream sequence (0: none). */
  readonly lastSeq: number;
}

/** Another migration of the same install changed the progress meanwhile. */
export class MigrationConflictError extends Error {
  /** @param message What was found. */
  constructor(message: string) {
    super(message);
    this.name = "MigrationConflictError";
  }
}

/**
 * The fingerprint of a single-node install's history: SHA-256 of its oldest
 * message (id, time, sender, text), hex. It stays the same while that
 * install keeps running, so a later run migrates only what is newer.
 *
 * @param oldest The oldest message row as text; `undefined` when there are none.
 * @returns 16 hex digits.
 */
export async function sourceFingerprint(oldest: string | undefined): Promise<string> {
  const bytes = new TextEncoder().encode(`banter-migrate-1\n${oldest ?? ""}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest.slice(0, 8)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** One install's progress; see the module doc. */
export class MigrationProgress {
  #kv: KV;
  #key: string;
  #fingerprint: string;
  #progress: MessageProgress = { lastOldId: 0, lastSeq: 0 };
  #revision = 0;

  private constructor(kv: KV, fingerprint: string) {
    this.#kv = kv;
    this.#fingerprint = fingerprint;
    this.#key = `${fingerprint}.progress`;
  }

  /**
   * Create or bind the bucket and read the progress of `fingerprint`.
   *
   * @param nc The cluster connection.
   * @param fingerprint The source's {@linkcode sourceFingerprint}.
   * @param replicas Copies of the bucket.
   * @returns The progress.
   * @throws {SyntaxError} When the stored progress is not one.
   */
  static async open(
    nc: NatsConnection,
    fingerprint: string,
    replicas: number,
  ): Promise<MigrationProgress> {
    const kv = await new Kvm(nc).create(MIGRATIONS_BUCKET, { history: 1, replicas });
    const progress = new MigrationProgress(kv, fingerprint);
    await progress.#load();
    return progress;
  }

  async #load(): Promise<void> {
    const entry = await this.#kv.get(this.#key);
    if (entry === null || entry.operation !== "PUT") {
      this.#revision = entry?.revision ?? 0;
      return;
    }
    const value: unknown = entry.json();
    if (
      !isRecord(value) || !Number.isSafeInteger(value.lastOldId) ||
      !Number.isSafeInteger(value.lastSeq)
    ) {
      throw new SyntaxError(
        `Cannot read ${MIGRATIONS_BUCKET}/${this.#key}: it is not a migration's progress`,
      );
    }
    this.#progress = { lastOldId: value.lastOldId as number, lastSeq: value.lastSeq as number };
    this.#revision = entry.revision;
  }

  /** The source's fingerprint. */
  get fingerprint(): string {
    return this.#fingerprint;
  }

  /** Where the message pass stood at the last write. */
  get messages(): MessageProgress {
    return this.#progress;
  }

  /**
   * Record where the message pass stands (compare-and-set on the last write).
   *
   * @throws {MigrationConflictError} When another run wrote it meanwhile.
   */
  async save(progress: MessageProgress): Promise<void> {
    const body = JSON.stringify(progress);
    try {
      this.#revision = this.#revision === 0
        ? await this.#kv.create(this.#key, body)
        : await this.#kv.update(this.#key, body, this.#revision);
    } catch (error) {
      if (!(error instanceof Error) || !/wrong last sequence|key exists/i.test(error.message)) {
        throw error;
      }
      throw new MigrationConflictError(
        "Cannot record the migration's progress: another migration of this install is running (or was, since this one started)",
      );
    }
    this.#progress = progress;
  }

  /** Remember the new sequence of old message `oldId`. */
  async mapId(oldId: number, seq: number): Promise<void> {
    await this.#kv.put(`${this.#fingerprint}.id.${oldId}`, String(seq));
  }

  /** The new sequence of old message `oldId`, if it was remembered. */
  async idOf(oldId: number): Promise<number | undefined> {
    const entry = await this.#kv.get(`${this.#fingerprint}.id.${oldId}`);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const seq = Number(entry.string());
    return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
  }
}
