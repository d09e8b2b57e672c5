/**
 * Password hashing: scrypt in PHC string form for new hashes; verification
 * also accepts the legacy formats (unsalted SHA-256 hex, bcrypt, and those
 * wrapped in scrypt) so old accounts can log in once and be upgraded.
 *
 * Every verification does the same work: once told the stored hashes
 * ({@linkcode Hasher.equalise}), the hasher computes, for every attempt,
 * each primitive step any of them needs (a bcrypt at each cost present, a
 * scrypt at each set of parameters present, plus the current scrypt),
 * really for the hash being checked and on a dummy input for the rest. An
 * unknown name, a wrong password on a scrypt account and one on a bcrypt
 * account then cost the same, and hashes with other parameters fall out of
 * that work as their owners log in and are re-hashed.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import { type Random, systemRandom } from "../util/clock.ts";
import { type Kdf, nodeKdf } from "./_kdf.ts";
import { Semaphore } from "./_semaphore.ts";
import {
  BCRYPT_SETTING_LENGTH,
  formatScryptHash,
  formatWrappedHash,
  type LegacyStep,
  parseStoredHash,
  type ScryptParams,
  scryptParamsProblem,
  type StoredHash,
} from "./_stored_hash.ts";

export type { ScryptParams } from "./_stored_hash.ts";
export type { Kdf } from "./_kdf.ts";

/**
 * The server's scrypt parameters for a `--scrypt-log-n` setting: r and p
 * as in {@linkcode DEFAULT_SCRYPT_PARAMS}. The server and the admin CLI
 * both take theirs from here, so they hash alike.
 *
 * @param logN log2 of the CPU/memory cost N.
 * @returns The parameters.
 */
export function scryptParamsFor(logN: number): ScryptParams {
  return Object.freeze({ ...DEFAULT_SCRYPT_PARAMS, logN });
}

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
  /** The primitives (scrypt, bcrypt, SHA-256); tests observe the work
   * through it. @default {nodeKdf} */
  kdf?: Kdf;
}

/** The outcome of {@linkcode Hasher.verify}. */
export interface VerifyResult {
  /** The password matches. */
  readonly ok: boolean;
  /** The password matches a hash that is not scrypt at exactly the current
   * parameters (a legacy or wrapped hash, or other scrypt parameters):
   * hash it again and store the new hash. Never true when `ok` is false. */
  readonly needsRehash: boolean;
}

const MISMATCH: VerifyResult = Object.freeze({ ok: false, needsRehash: false });

/** One primitive computation a verification needs; `name` tells it apart,
 * e.g. `scrypt ln=17,r=8,p=1` or `bcrypt 12`. */
type Step =
  | { readonly name: string; readonly kind: "sha256" }
  | { readonly name: string; readonly kind: "bcrypt"; readonly cost: number }
  | { readonly name: string; readonly kind: "scrypt"; readonly params: ScryptParams };

/** Characters of the bcrypt salt in a setting. */
const BCRYPT_SALT_CHARS = 22;
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

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
  #kdf: Kdf;
  #slots: Semaphore;
  #dummySalt: Uint8Array;
  #dummyBcryptSalt: string;
  #dummyKey = new Uint8Array(KEY_BYTES);
  /** The steps every verification does, by name. */
  #work: Map<string, Step>;

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
    this.#kdf = options.kdf ?? nodeKdf;
    this.#slots = new Semaphore(
      options.maxConcurrent ?? (navigator.hardwareConcurrency || 2),
    );
    this.#dummySalt = this.#random.bytes(SALT_BYTES);
    // 21 free characters and a last one whose unused low bits are zero.
    this.#dummyBcryptSalt = [...this.#random.bytes(BCRYPT_SALT_CHARS - 1)]
      .map((byte) => BCRYPT_ALPHABET[byte % 64]).join("") + ".";
    this.#work = this.#baseline();
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
   * The primitive steps every verification does now, e.g.
   * `["bcrypt 12", "scrypt ln=17,r=8,p=1"]`: the current scrypt, plus
   * what the hashes given to {@linkcode equalise} need.
   */
  get stepsPerAttempt(): readonly string[] {
    return [...this.#work.keys()];
  }

  /**
   * Make every later verification, real or dummy, do the work that the
   * costliest of `storedHashes` needs: each step (bcrypt at a cost, scrypt
   * at some parameters, SHA-256) that any of them needs is computed on
   * every attempt. Call it with every stored hash whenever they change.
   *
   * @param storedHashes Every hash in the accounts file.
   */
  equalise(storedHashes: Iterable<string>): void {
    const work = this.#baseline();
    for (const stored of storedHashes) {
      for (const step of stepsOf(parseStoredHash(stored))) work.set(step.name, step);
    }
    this.#work = new Map([...work].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
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
   * Wrap a legacy hash (unsalted SHA-256 or bcrypt) in scrypt at the
   * current parameters, without knowing the password: the new hash is
   * scrypt over the legacy hash's output, checked by computing the legacy
   * hash and then scrypt.
   *
   * @param stored A stored hash.
   * @returns The wrapped hash, or `undefined` when `stored` is not a legacy
   * hash (scrypt, wrapped already, or malformed).
   */
  async wrap(stored: string): Promise<string | undefined> {
    const parsed = parseStoredHash(stored);
    let inner: LegacyStep;
    let output: string | Uint8Array;
    if (parsed.kind === "sha256") {
      inner = { kind: "sha256" };
      output = parsed.digest;
    } else if (parsed.kind === "bcrypt") {
      const setting = parsed.encoded.slice(0, BCRYPT_SETTING_LENGTH);
      inner = { kind: "bcrypt", setting, cost: bcryptCost(setting) };
      output = parsed.encoded.slice(BCRYPT_SETTING_LENGTH);
    } else {
      return undefined;
    }
    const salt = this.#random.bytes(SALT_BYTES);
    const key = await this.#derive(output, salt, this.#params, KEY_BYTES);
    return formatWrappedHash(this.#params, salt, key, inner);
  }

  /**
   * Check `password` against a stored hash in any supported format: scrypt
   * PHC (any parameters), a legacy SHA-256 hex digest, bcrypt
   * (`$2a$`/`$2b$`/`$2y$`) or either wrapped in scrypt. Unrecognised values
   * do not match; they never throw. Whatever the format, the work done is
   * every step in {@linkcode stepsPerAttempt} (and the hash's own steps if they are
   * not among them).
   *
   * @param password The password offered.
   * @param stored The stored hash.
   * @returns Whether it matches and whether the hash should be upgraded.
   */
  async verify(password: string, stored: string): Promise<VerifyResult> {
    const parsed = parseStoredHash(stored);
    const own = new Set(stepsOf(parsed).map((step) => step.name));
    for (const step of this.#work.values()) {
      if (!own.has(step.name)) await this.#dummy(step, password);
    }
    if (!await this.#check(parsed, password)) return MISMATCH;
    return { ok: true, needsRehash: !this.#isCurrent(parsed) };
  }

  /**
   * Do the work of a real verification (every step in {@linkcode stepsPerAttempt})
   * and report a mismatch: used for unknown users so that response time
   * does not reveal which names exist.
   *
   * @param password The password offered.
   * @returns Always `{ ok: false, needsRehash: false }`.
   */
  async verifyDummy(password: string): Promise<VerifyResult> {
    for (const step of this.#work.values()) await this.#dummy(step, password);
    return MISMATCH;
  }

  #baseline(): Map<string, Step> {
    const step = scryptStep(this.#params);
    return new Map([[step.name, step]]);
  }

  #isCurrent(parsed: StoredHash): boolean {
    if (parsed.kind !== "scrypt") return false;
    const { logN, r, p } = parsed.params;
    const current = this.#params;
    return logN === current.logN && r === current.r && p === current.p;
  }

  /** Compute the hash's own steps on `password` and compare. */
  async #check(parsed: StoredHash, password: string): Promise<boolean> {
    switch (parsed.kind) {
      case "scrypt": {
        const { params, salt, key } = parsed;
        return timingSafeEqual(await this.#derive(password, salt, params, key.length), key);
      }
      case "sha256":
        return timingSafeEqual(this.#kdf.sha256(password), parsed.digest);
      case "bcrypt": {
        const setting = parsed.encoded.slice(0, BCRYPT_SETTING_LENGTH);
        return equalText(await this.#bcrypt(password, setting), parsed.encoded);
      }
      case "wrapped": {
        const { params, salt, key, inner } = parsed;
        const output = inner.kind === "sha256"
          ? this.#kdf.sha256(password)
          : (await this.#bcrypt(password, inner.setting)).slice(BCRYPT_SETTING_LENGTH);
        return timingSafeEqual(await this.#derive(output, salt, params, key.length), key);
      }
      case "malformed":
        return false;
    }
  }

  /** Do `step` on `password` with a dummy salt, for its cost only. */
  async #dummy(step: Step, password: string): Promise<void> {
    switch (step.kind) {
      case "scrypt": {
        const derived = await this.#derive(password, this.#dummySalt, step.params, KEY_BYTES);
        timingSafeEqual(derived, this.#dummyKey);
        return;
      }
      case "bcrypt": {
        const cost = String(step.cost).padStart(2, "0");
        await this.#bcrypt(password, `$2b$${cost}$${this.#dummyBcryptSalt}`);
        return;
      }
      case "sha256":
        this.#kdf.sha256(password);
        return;
    }
  }

  #bcrypt(password: string, setting: string): Promise<string> {
    return this.#slots.run(() => this.#kdf.bcrypt(password, setting));
  }

  #derive(
    password: string | Uint8Array,
    salt: Uint8Array,
    params: ScryptParams,
    keyLength: number,
  ): Promise<Uint8Array> {
    return this.#slots.run(() => this.#kdf.scrypt(password, salt, params, keyLength));
  }
}

/** The primitive steps checking `parsed` takes. */
function stepsOf(parsed: StoredHash): Step[] {
  switch (parsed.kind) {
    case "scrypt":
      return [scryptStep(parsed.params)];
    case "sha256":
      return [SHA256_STEP];
    case "bcrypt":
      return [bcryptStep(bcryptCost(parsed.encoded))];
    case "wrapped": {
      const { inner } = parsed;
      const first = inner.kind === "sha256" ? SHA256_STEP : bcryptStep(inner.cost);
      return [first, scryptStep(parsed.params)];
    }
    case "malformed":
      return [];
  }
}

const SHA256_STEP: Step = Object.freeze({ name: "sha256", kind: "sha256" });

function scryptStep(params: ScryptParams): Step {
  const { logN, r, p } = params;
  return { name: `scrypt ln=${logN},r=${r},p=${p}`, kind: "scrypt", params };
}

function bcryptStep(cost: number): Step {
  return { name: `bcrypt ${cost}`, kind: "bcrypt", cost };
}

/** The cost in a bcrypt hash or setting (`$2b$12$...`). */
function bcryptCost(encoded: string): number {
  return Number(encoded.slice(4, 6));
}

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
