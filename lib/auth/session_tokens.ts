/**
 * Session tokens: bearer secrets that let a browser (or the terminal
 * client) log in again without the password. A token is 32 random bytes in
 * base64url; only its SHA-256 is stored (a 256-bit random secret needs no
 * slow hash), with the account id it is bound to and its times, in one
 * JSON file replaced atomically. A token expires after
 * {@linkcode SessionTokensOptions.idleMs} unused or
 * {@linkcode SessionTokensOptions.maxAgeMs} after it was issued.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { type Clock, type Random, systemClock, systemRandom } from "../util/clock.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { isRecord } from "../util/is_record.ts";

/** Random bytes in a token. */
export const TOKEN_BYTES = 32;
/** A token unused this long expires (7 days). */
export const DEFAULT_TOKEN_IDLE_MS = 7 * 24 * 3_600_000;
/** A token expires this long after it was issued, used or not (30 days). */
export const DEFAULT_TOKEN_MAX_AGE_MS = 30 * 24 * 3_600_000;
/** Tokens one account may hold; issuing another drops its oldest. */
export const MAX_TOKENS_PER_ACCOUNT = 16;
/** Longest text accepted as a token (a real one is 43 characters). */
export const MAX_TOKEN_CHARS = 64;

/** Options for {@linkcode SessionTokens.open}. */
export interface SessionTokensOptions {
  /** Time. @default systemClock */
  clock?: Clock;
  /** Where token bytes come from. @default systemRandom */
  random?: Random;
  /** @default {DEFAULT_TOKEN_IDLE_MS} */
  idleMs?: number;
  /** @default {DEFAULT_TOKEN_MAX_AGE_MS} */
  maxAgeMs?: number;
}

interface Entry {
  readonly account: string;
  readonly issued: number;
  used: number;
}

const FILE_VERSION = 1;

/** The stored tokens of a server. */
export class SessionTokens {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #entries: Map<string, Entry>;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string, entries: Map<string, Entry>, options: SessionTokensOptions) {
    this.#path = path;
    this.#entries = entries;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#idleMs = options.idleMs ?? DEFAULT_TOKEN_IDLE_MS;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_TOKEN_MAX_AGE_MS;
  }

  /**
   * Open (or start) the token file at `path`; its directory must exist.
   *
   * @param path The file, e.g. `data/tokens.json`.
   * @param options Clock, randomness, expiry.
   * @returns The tokens.
   * @throws {SyntaxError} "Cannot read session tokens: ..." when the file is not a token file.
   */
  static async open(path: string, options: SessionTokensOptions = {}): Promise<SessionTokens> {
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return new SessionTokens(path, text === undefined ? new Map() : parse(path, text), options);
  }

  /** Tokens held (expired ones included until the next write). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Issue a token bound to `account`.
   *
   * @param account The account id.
   * @returns The token (shown to its holder only; never stored).
   */
  async issue(account: string): Promise<string> {
    const token = toBase64Url(this.#random.bytes(TOKEN_BYTES));
    const now = this.#clock.now();
    const held = [...this.#entries].filter(([, e]) => e.account === account);
    held.sort(([, a], [, b]) => a.issued - b.issued);
    for (const [key] of held.slice(0, Math.max(0, held.length - MAX_TOKENS_PER_ACCOUNT + 1))) {
      this.#entries.delete(key);
    }
    this.#entries.set(digest(token), { account, issued: now, used: now });
    await this.#save();
    return token;
  }

  /**
   * The account a token is bound to, when it is known and not expired;
   * its idle time starts again.
   *
   * @param token Untrusted text from a client.
   * @returns The account id, or undefined.
   */
  async check(token: string): Promise<string | undefined> {
    if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return undefined;
    const key = digest(token);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // The map found it by its hash; compare the hashes in constant time anyway.
    if (!timingSafeEqual(Buffer.from(key, "hex"), Buffer.from(digest(token), "hex"))) {
      return undefined;
    }
    const now = this.#clock.now();
    if (this.#expired(entry, now)) {
      this.#entries.delete(key);
      await this.#save();
      return undefined;
    }
    entry.used = now;
    await this.#save();
    return entry.account;
  }

  /**
   * Revoke one token (logout).
   *
   * @param token The token.
   */
  async revoke(token: string): Promise<void> {
    if (this.#entries.delete(digest(token))) await this.#save();
  }

  /**
   * Revoke every token of an account (password change, removal, role change).
   *
   * @param account The account id.
   */
  async revokeAccount(account: string): Promise<void> {
    let changed = false;
    for (const [key, entry] of this.#entries) {
      if (entry.account === account) changed = this.#entries.delete(key);
    }
    if (changed) await this.#save();
  }

  /** Settles once every write started so far is done (for shutdown). */
  settled(): Promise<void> {
    return this.#writing;
  }

  #expired(entry: Entry, now: number): boolean {
    return now - entry.used >= this.#idleMs || now - entry.issued >= this.#maxAgeMs;
  }

  #save(): Promise<void> {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      if (this.#expired(entry, now)) this.#entries.delete(key);
    }
    const text = JSON.stringify({
      version: FILE_VERSION,
      tokens: Object.fromEntries(this.#entries),
    });
    const done = this.#writing.then(() => writeFileAtomic(this.#path, text + "\n"));
    this.#writing = done.catch(() => undefined); // the caller sees the failure
    return done;
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function parse(path: string, text: string): Map<string, Entry> {
  const bad = (why: string) => new SyntaxError(`Cannot read session tokens: ${path} ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SyntaxError(`Cannot read session tokens: ${path} is not JSON`, { cause });
  }
  if (!isRecord(value) || value["version"] !== FILE_VERSION || !isRecord(value["tokens"])) {
    throw bad("is not a version 1 token file");
  }
  const entries = new Map<string, Entry>();
  for (const [key, e] of Object.entries(value["tokens"])) {
    if (
      !/^[0-9a-f]{64}$/.test(key) || !isRecord(e) || typeof e["account"] !== "string" ||
      typeof e["issued"] !== "number" || typeof e["used"] !== "number"
    ) throw bad("holds an entry that is not a token");
    entries.set(key, { account: e["account"], issued: e["issued"], used: e["used"] });
  }
  return entries;
}
