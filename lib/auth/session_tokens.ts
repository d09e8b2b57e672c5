/**
 * Session tokens: bearer secrets that let a browser (or the terminal
 * client) log in again without the password. A token is 32 random bytes in
 * base64url; only its SHA-256 is stored (a 256-bit random secret needs no
 * slow hash), with the account id it is bound to, a digest of that
 * account's password hash and role when it was issued ({@linkcode tokenBinding}),
 * and its times, in one JSON file replaced atomically. A token whose
 * account's password or role has changed since, even while the server was
 * stopped, or whose account is gone, is refused. A token expires after
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
  /**
   * The account's {@linkcode tokenBinding} as it is now, or undefined when
   * there is no such account. @default every account is unbound: no token is valid
   */
  bindingOf?: (account: string) => string | undefined;
}

interface Entry {
  readonly account: string;
  /** {@linkcode tokenBinding} of the account when the token was issued. */
  readonly binding: string;
  readonly issued: number;
  used: number;
}

const FILE_VERSION = 2;

/**
 * What a token is bound to besides its account id: a digest of the
 * account's password hash and role, so changing either (online or not)
 * ends every token of the account.
 *
 * @param account The account: its id, role and password hash.
 * @returns A hex SHA-256; the hash itself is never stored with tokens.
 */
export function tokenBinding(account: { id: string; role: string; hash: string }): string {
  return createHash("sha256").update(
    JSON.stringify(["banter-token", account.id, account.role, account.hash]),
  )
    .digest("hex");
}

/** The stored tokens of a server. */
export class SessionTokens {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #entries: Map<string, Entry>;
  readonly #bindingOf: (account: string) => string | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string, entries: Map<string, Entry>, options: SessionTokensOptions) {
    this.#path = path;
    this.#entries = entries;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#idleMs = options.idleMs ?? DEFAULT_TOKEN_IDLE_MS;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_TOKEN_MAX_AGE_MS;
    this.#bindingOf = options.bindingOf ?? (() => undefined);
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
   * Issue a token bound to `account` as it is now.
   *
   * @param account The account id.
   * @returns The token (shown to its holder only; never stored).
   * @throws {Error} "Cannot issue a session token: no account ..." when `bindingOf` knows no such account; or the write's error.
   */
  async issue(account: string): Promise<string> {
    const binding = this.#bindingOf(account);
    if (binding === undefined) {
      throw new Error(`Cannot issue a session token: no account ${account}`);
    }
    const token = toBase64Url(this.#random.bytes(TOKEN_BYTES));
    const now = this.#clock.now();
    const held = [...this.#entries].filter(([, e]) => e.account === account);
    held.sort(([, a], [, b]) => a.issued - b.issued);
    for (const [key] of held.slice(0, Math.max(0, held.length - MAX_TOKENS_PER_ACCOUNT + 1))) {
      this.#entries.delete(key);
    }
    this.#entries.set(digest(token), { account, binding, issued: now, used: now });
    await this.#save();
    return token;
  }

  /**
   * The account a token is bound to, when it is known, not expired, and the
   * account's password and role are what they were when it was issued;
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
    const binding = this.#bindingOf(entry.account);
    const bound = binding !== undefined &&
      timingSafeEqual(Buffer.from(binding, "hex"), Buffer.from(entry.binding, "hex"));
    if (!bound || this.#expired(entry, now)) {
      await this.#save([key]);
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
    const key = digest(token);
    if (this.#entries.has(key)) await this.#save([key]);
  }

  /**
   * Revoke every token of an account (password change, removal, role change).
   *
   * @param account The account id.
   */
  async revokeAccount(account: string): Promise<void> {
    const keys = [...this.#entries].filter(([, e]) => e.account === account).map(([key]) => key);
    if (keys.length > 0) await this.#save(keys);
  }

  /** Settles once every write started so far is done (for shutdown). */
  settled(): Promise<void> {
    return this.#writing;
  }

  #expired(entry: Entry, now: number): boolean {
    return now - entry.used >= this.#idleMs || now - entry.issued >= this.#maxAgeMs;
  }

  /**
   * Write the tokens without `dropped` (and expired ones); only once the
   * file no longer holds them are they dropped here too, so a failed write
   * never brings a revoked token back after a restart.
   */
  #save(dropped: readonly string[] = []): Promise<void> {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      if (this.#expired(entry, now)) this.#entries.delete(key);
    }
    const gone = new Set(dropped);
    const kept = [...this.#entries].filter(([key]) => !gone.has(key));
    const text = JSON.stringify({ version: FILE_VERSION, tokens: Object.fromEntries(kept) });
    const done = this.#writing.then(() => writeFileAtomic(this.#path, text + "\n")).then(() => {
      for (const key of gone) this.#entries.delete(key);
    });
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
  const version = isRecord(value) ? value["version"] : undefined;
  if (
    !isRecord(value) || (version !== 1 && version !== FILE_VERSION) || !isRecord(value["tokens"])
  ) {
    throw bad(`is not a version ${FILE_VERSION} token file`);
  }
  const entries = new Map<string, Entry>();
  // Version 1 tokens were bound to the account id alone: none is kept.
  if (version === 1) return entries;
  for (const [key, e] of Object.entries(value["tokens"])) {
    if (
      !/^[0-9a-f]{64}$/.test(key) || !isRecord(e) || typeof e["account"] !== "string" ||
      typeof e["binding"] !== "string" || !/^[0-9a-f]{64}$/.test(e["binding"]) ||
      typeof e["issued"] !== "number" || typeof e["used"] !== "number"
    ) throw bad("holds an entry that is not a token");
    entries.set(key, {
      account: e["account"],
      binding: e["binding"],
      issued: e["issued"],
      used: e["used"],
    });
  }
  return entries;
}
