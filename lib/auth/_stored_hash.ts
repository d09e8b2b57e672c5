/**
 * Recognises the password hash formats Banter has stored over time and
 * formats its current ones: scrypt in PHC string form, and scrypt over a
 * legacy hash (`$scrypt-wrapped$`), written by `user.ts upgrade` so no
 * weak hash stays on disk while its owner has not logged in.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** scrypt cost parameters: N = 2^logN, block size r, parallelism p. */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  readonly logN: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/** Largest scrypt memory (128·N·r bytes) a stored hash may ask for. */
export const MAX_SCRYPT_MEMORY_BYTES = 512 * 1024 * 1024;
/** Largest scrypt parallelism a stored hash may ask for. */
export const MAX_SCRYPT_P = 16;
/** Largest bcrypt cost a stored hash may ask for (each step doubles). */
export const MAX_BCRYPT_COST = 15;
const SALT_BYTES = { min: 8, max: 64 } as const;
const KEY_BYTES = { min: 16, max: 64 } as const;

/** A stored hash, classified. */
export type StoredHash =
  | {
    readonly kind: "scrypt";
    readonly params: ScryptParams;
    readonly salt: Uint8Array;
    readonly key: Uint8Array;
  }
  /** Unsalted SHA-256 hex digest from the original Python version. */
  | { readonly kind: "sha256"; readonly digest: Uint8Array }
  | { readonly kind: "bcrypt"; readonly encoded: string }
  /** scrypt over the output of a legacy hash, see {@linkcode formatWrappedHash}. */
  | {
    readonly kind: "wrapped";
    readonly params: ScryptParams;
    readonly salt: Uint8Array;
    readonly key: Uint8Array;
    readonly inner: LegacyStep;
  }
  | { readonly kind: "malformed" };

/** The legacy hash inside a wrapped one: unsalted SHA-256, or bcrypt with
 * its setting (`$2b$<cost>$<22 characters of salt>`). */
export type LegacyStep =
  | { readonly kind: "sha256" }
  | { readonly kind: "bcrypt"; readonly setting: string; readonly cost: number };

const SCRYPT_PHC =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const WRAPPED =
  /^\$scrypt-wrapped\$(ln=\d{1,2},r=\d{1,3},p=\d{1,3}\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+)\$(sha256|bcrypt(\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{22}))$/;
/** Characters of a bcrypt hash that are its setting: `$2b$12$` and the salt. */
export const BCRYPT_SETTING_LENGTH = 29;
const MALFORMED = { kind: "malformed" } as const;

/**
 * Why `params` cannot be used, or `undefined` when they can.
 *
 * @param params The parameters to check.
 * @returns A description of the problem, without any secret.
 */
export function scryptParamsProblem(params: ScryptParams): string | undefined {
  const { logN, r, p } = params;
  if (!Number.isInteger(logN) || logN < 1 || logN > 30) {
    return `logN must be an integer from 1 to 30, got ${logN}`;
  }
  if (!Number.isInteger(r) || r < 1) {
    return `r must be a positive integer, got ${r}`;
  }
  if (!Number.isInteger(p) || p < 1 || p > MAX_SCRYPT_P) {
    return `p must be an integer from 1 to ${MAX_SCRYPT_P}, got ${p}`;
  }
  if (scryptMemoryBytes(params) > MAX_SCRYPT_MEMORY_BYTES) {
    return `memory 128*N*r must be at most ${MAX_SCRYPT_MEMORY_BYTES} bytes`;
  }
  return undefined;
}

/** Bytes of memory scrypt needs for `params` (the V array). */
export function scryptMemoryBytes(params: ScryptParams): number {
  return 128 * params.r * 2 ** params.logN;
}

/**
 * Classify a stored hash; anything unrecognised or out of bounds is
 * `malformed` (never an exception, so no caller can leak it in a message).
 *
 * @param stored The stored value.
 * @returns The parsed hash.
 */
export function parseStoredHash(stored: unknown): StoredHash {
  if (typeof stored !== "string") return MALFORMED;
  if (SHA256_HEX.test(stored)) {
    return { kind: "sha256", digest: Buffer.from(stored, "hex") };
  }
  const bcrypt = BCRYPT.exec(stored);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    return cost >= 4 && cost <= MAX_BCRYPT_COST ? { kind: "bcrypt", encoded: stored } : MALFORMED;
  }
  const wrapped = WRAPPED.exec(stored);
  if (wrapped) {
    const outer = parseStoredHash(`$scrypt$${wrapped[1]}`);
    const cost = Number(wrapped[4] ?? 0);
    const setting = wrapped[3];
    if (outer.kind !== "scrypt") return MALFORMED;
    if (setting === undefined) return { ...outer, kind: "wrapped", inner: { kind: "sha256" } };
    if (cost < 4 || cost > MAX_BCRYPT_COST) return MALFORMED;
    return { ...outer, kind: "wrapped", inner: { kind: "bcrypt", setting, cost } };
  }
  const phc = SCRYPT_PHC.exec(stored);
  if (!phc) return MALFORMED;
  const params = { logN: Number(phc[1]), r: Number(phc[2]), p: Number(phc[3]) };
  const salt = decodeBase64(phc[4] ?? "");
  const key = decodeBase64(phc[5] ?? "");
  if (
    scryptParamsProblem(params) !== undefined ||
    !salt || salt.length < SALT_BYTES.min || salt.length > SALT_BYTES.max ||
    !key || key.length < KEY_BYTES.min || key.length > KEY_BYTES.max
  ) return MALFORMED;
  return { kind: "scrypt", params, salt, key };
}

/**
 * Format a scrypt hash as a PHC string:
 * `$scrypt$ln=<logN>,r=<r>,p=<p>$<salt>$<key>` (standard base64, no padding).
 */
export function formatScryptHash(
  params: ScryptParams,
  salt: Uint8Array,
  key: Uint8Array,
): string {
  const { logN, r, p } = params;
  return `$scrypt$ln=${logN},r=${r},p=${p}$${encodeBase64(salt)}$${encodeBase64(key)}`;
}

/**
 * Format scrypt over a legacy hash's output:
 * `$scrypt-wrapped$ln=..,r=..,p=..$<salt>$<key>$sha256` or
 * `...$<key>$bcrypt$2b$<cost>$<salt>`. The scrypt input is the SHA-256
 * digest (32 bytes), or the last 31 characters of the bcrypt hash (its
 * checksum), so the legacy hash itself is no longer stored.
 */
export function formatWrappedHash(
  params: ScryptParams,
  salt: Uint8Array,
  key: Uint8Array,
  inner: LegacyStep,
): string {
  const outer = formatScryptHash(params, salt, key).slice("$scrypt$".length);
  const legacy = inner.kind === "sha256" ? "sha256" : `bcrypt${inner.setting}`;
  return `$scrypt-wrapped$${outer}$${legacy}`;
}

/**
 * Whether `next` is `previous` re-encoded by `user.ts upgrade`: a legacy
 * hash replaced by its wrap, so the password it checks is still the same.
 * The wrap must name the same legacy step: SHA-256, or bcrypt with the
 * same setting (cost and random salt). No password is needed and no KDF
 * runs. A new password (`user.ts passwd`, `add`) is always plain
 * `$scrypt$`, never wrapped, so it is never mistaken for a re-encoding.
 *
 * @param previous The hash stored before.
 * @param next The hash stored now.
 * @returns `true` when `next` wraps the legacy hash `previous`.
 *
 * @example
 * ```ts
 * import { isWrapOf } from "./_stored_hash.ts";
 * import { equal } from "node:assert/strict";
 *
 * const sha = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
 * equal(isWrapOf(sha, "$scrypt-wrapped$ln=10,r=8,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5$sha256"), true);
 * equal(isWrapOf(sha, "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"), false);
 * ```
 */
export function isWrapOf(previous: string, next: string): boolean {
  const before = parseStoredHash(previous);
  const after = parseStoredHash(next);
  if (after.kind !== "wrapped") return false;
  if (before.kind === "sha256") return after.inner.kind === "sha256";
  if (before.kind === "bcrypt") {
    return after.inner.kind === "bcrypt" &&
      after.inner.setting === before.encoded.slice(0, BCRYPT_SETTING_LENGTH);
  }
  return false;
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

/** Strict unpadded base64: rejects lengths no encoder produces. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, "base64");
  return encodeBase64(bytes) === text ? bytes : undefined;
}
