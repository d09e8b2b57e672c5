/**
 * Password hashing: scrypt in PHC string form for new hashes; verification
 * also accepts the legacy formats (unsalted SHA-256 hex, bcrypt) so old
 * accounts can log in once and be upgraded.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, scrypt, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import { type Random, systemRandom } from "../util/clock.ts";
import { Semaphore } from "./_semaphore.ts";
import {
  formatScryptHash,
  parseStoredHash,
  scryptMemoryBytes,
  type ScryptParams,
  scryptParamsProblem,
} from "./_stored_hash.ts";

export type { ScryptParams } from "./_stored_hash.ts";

/** OWASP's minimum for scrypt: N = 2^17 (128 MiB with r = 8), r = 8, p = 1. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({
  logN: 17,
  r: 8,
  p: 1,
});
/** Bytes of random salt in each new hash. */
export const SALT_BYTES = 16;
/** Bytes of derived key in each new hash. */
export const KEY_BYTES = 32;

/** Options for {@linkcode Hasher}. */
export interface HasherOptions {
  /** scrypt cost for new hashes and for {@linkcode Hasher.verifyDummy}.
   * @default {DEFAULT_SCRYPT_PARAMS} */
  params?: ScryptParams;
  /** Hashes computed at once; the rest queue.
   * @default {navigator.hardwareConcurrency, or 2} */
  maxConcurrent?: number;
  /** Source of salts. @default {systemRandom} */
  random?: Random;
}

/** The outcome of {@linkcode Hasher.verify}. */
export interface VerifyResult {
  /** The password matches. */
  readonly ok: boolean;
  /** The password matches a legacy hash or one weaker than the current
   * parameters: hash it again and store the new hash. Never true when
   * `ok` is false. */
  readonly needsRehash: boolean;
}

const MISMATCH: VerifyResult = Object.freeze({ ok: false, needsRehash: false });

/**
 * Hashes and verifies passwords off the main thread, at most
 * `maxConcurrent` at a time, so a burst of logins queues instead of
 * exhausting memory while the event loop stays free.
 *
 * @example Hash and verify
 * ```ts
 * import { Hasher } from "./hash.ts";
 * import { equal } from "node:assert/strict";
 *
 * const hasher = new Hasher({ params: { logN: 10, r: 8, p: 1 } });
 * const stored = await hasher.hash("correct horse");
 * equal(stored.startsWith("$scrypt$ln=10,r=8,p=1$"), true);
 * equal((await hasher.verify("correct horse", stored)).ok, true);
 * equal((await hasher.verify("wrong horse", stored)).ok, false);
 * ```
 */
export class Hasher {
  #params: ScryptParams;
  #random: Random;
  #slots: Semaphore;
  #dummySalt: Uint8Array;
  #dummyKey = new Uint8Array(KEY_BYTES);

  /**
   * Create a hasher; the options are checked here, not at first use.
   *
   * @param options Cost, concurrency and randomness.
   * @throws {RangeError} When the parameters or the concurrency are out of
   * range.
   */
  constructor(options: HasherOptions = {}) {
    const params = options.params ?? DEFAULT_SCRYPT_PARAMS;
    const problem = scryptParamsProblem(params);
    if (problem) {
      throw new RangeError(`Cannot create hasher: ${problem}`);
    }
    this.#params = Object.freeze({ ...params });
    this.#random = options.random ?? systemRandom;
    this.#slots = new Semaphore(
      options.maxConcurrent ?? (navigator.hardwareConcurrency || 2),
    );
    this.#dummySalt = this.#random.bytes(SALT_BYTES);
  }

  /** The scrypt parameters of new hashes. */
  get params(): ScryptParams {
    return this.#params;
  }

  /** Hashes computed at once at most. */
  get maxConcurrent(): number {
    return this.#slots.limit;
  }

  /** Hashes being computed now. */
  get active(): number {
    return this.#slots.active;
  }

  /** Hashes waiting for a free slot. */
  get waiting(): number {
    return this.#slots.waiting;
  }

  /**
   * Hash `password` with a fresh salt and the current parameters.
   *
   * @param password The password.
   * @returns A PHC string `$scrypt$ln=..,r=..,p=..$<salt>$<key>`.
   */
  async hash(password: string): Promise<string> {
    const salt = this.#random.bytes(SALT_BYTES);
    const key = await this.#derive(password, salt, this.#params, KEY_BYTES);
    return formatScryptHash(this.#params, salt, key);
  }

  /**
   * Check `password` against a stored hash in any supported format: scrypt
   * PHC (any parameters), a legacy SHA-256 hex digest or bcrypt
   * (`$2a$`/`$2b$`/`$2y$`). Unrecognised values do not match; they never
   * throw. Hashes that may be fast to check (SHA-256, bcrypt, malformed) also
   * pay for a dummy scrypt so their timing is never below a real check.
   *
   * @param password The password offered.
   * @param stored The stored hash.
   * @returns Whether it matches and whether the hash should be upgraded.
   */
  async verify(password: string, stored: string): Promise<VerifyResult> {
    const parsed = parseStoredHash(stored);
    switch (parsed.kind) {
      case "scrypt": {
        const { params, salt, key } = parsed;
        const derived = await this.#derive(password, salt, params, key.length);
        const current = this.#params;
        const weaker = params.logN < current.logN || params.r < current.r ||
          params.p < current.p;
        return verdict(timingSafeEqual(derived, key), weaker);
      }
      case "sha256": {
        await this.verifyDummy(password);
        const digest = createHash("sha256").update(password, "utf8").digest();
        return verdict(timingSafeEqual(digest, parsed.digest), true);
      }
      case "bcrypt": {
        // A cheap bcrypt cost would answer faster than an unknown name does.
        await this.verifyDummy(password);
        const ok = await this.#slots.run(() => bcrypt.compare(password, parsed.encoded));
        return verdict(ok, true);
      }
      case "malformed":
        return await this.verifyDummy(password);
    }
  }

  /**
   * Do the work of a real verification at the current parameters and
   * report a mismatch: used for unknown users so that response time does
   * not reveal which names exist.
   *
   * @param password The password offered.
   * @returns Always `{ ok: false, needsRehash: false }`.
   */
  async verifyDummy(password: string): Promise<VerifyResult> {
    const derived = await this.#derive(
      password,
      this.#dummySalt,
      this.#params,
      KEY_BYTES,
    );
    timingSafeEqual(derived, this.#dummyKey);
    return MISMATCH;
  }

  #derive(
    password: string,
    salt: Uint8Array,
    params: ScryptParams,
    keyLength: number,
  ): Promise<Uint8Array> {
    const { logN, r, p } = params;
    // OpenSSL needs 128·r·(N + p + 2) bytes; leave a little headroom.
    const maxmem = scryptMemoryBytes(params) + 128 * r * (p + 2) + 65536;
    return this.#slots.run(() =>
      new Promise<Uint8Array>((resolve, reject) => {
        scrypt(
          password,
          salt,
          keyLength,
          { N: 2 ** logN, r, p, maxmem },
          (error: Error | null, key: Buffer) => error ? reject(error) : resolve(key),
        );
      })
    );
  }
}

function verdict(ok: boolean, upgradable: boolean): VerifyResult {
  return ok ? { ok, needsRehash: upgradable } : MISMATCH;
}
