/**
 * Session tokens: bearer secrets that let a browser (or the terminal
 * client) log in again without the password. A token is 32 random bytes in
 * base64url; only its SHA-256 is stored (a 256-bit random secret needs no
 * slow hash), with the account id it is bound to, a digest of that
 * account's password hash and role when it was issued ({@linkcode tokenBinding}),
 * and its times, in one JSON file replaced atomically (or, in cluster mode,
 * one NATS KV entry changed with compare-and-set). A token whose
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
import { isRecord } from "../util/is_record.ts";
import { LockedJsonFile } from "./_locked_json_file.ts";
import type { JsonDocument, JsonDocumentOpener, JsonFormat } from "./json_document.ts";

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

/** A session token as the token file holds it (keyed by the token's digest). */
export interface TokenEntry {
  readonly account: string;
  /** {@linkcode tokenBinding} of the account when the token was issued. */
  readonly binding: string;
  readonly issued: number;
  used: number;
}

/** The token file format written; version 1 is still read (and holds no valid token). */
export const TOKENS_FILE_VERSION = 2;

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
  readonly #document: JsonDocument<Entries>;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #bindingOf: (account: string) => string | undefined;
  /** The tokens as last read or written. */
  #entries: Entries = new Map();
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(source: string | JsonDocumentOpener, options: SessionTokensOptions) {
    const format: JsonFormat<Entries> = {
      parse: parseTokenFile,
      serialise: serialiseTokens,
      invalid: (problem, errorOptions) =>
        new SyntaxError(
          `Cannot read session tokens: ${this.#document.description} ${
            errorOptions?.cause instanceof SyntaxError ? "is not JSON" : problem
          }`,
          errorOptions,
        ),
    };
    // The server is the file's only writer: no lock file.
    this.#document = typeof source === "string"
      ? new LockedJsonFile(source, format, { shared: false })
      : source(format);
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
    return await SessionTokens.#open(path, options);
  }

  /**
   * Open (or start) the tokens in a document other than a file (a NATS KV
   * entry in cluster mode, shared by every instance: a token issued on one
   * is checked on any other).
   *
   * @param open Opens the document with the token format.
   * @param options Clock, randomness, expiry.
   * @returns The tokens.
   * @throws {SyntaxError} "Cannot read session tokens: ..." when the stored value is not token state.
   */
  static async openDocument(
    open: JsonDocumentOpener,
    options: SessionTokensOptions = {},
  ): Promise<SessionTokens> {
    return await SessionTokens.#open(open, options);
  }

  static async #open(
    source: string | JsonDocumentOpener,
    options: SessionTokensOptions,
  ): Promise<SessionTokens> {
    const tokens = new SessionTokens(source, options);
    tokens.#entries = await tokens.#document.read() ?? new Map();
    return tokens;
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
    await this.#save((entries) => {
      const held = [...entries].filter(([, e]) => e.account === account);
      held.sort(([, a], [, b]) => a.issued - b.issued);
      for (const [key] of held.slice(0, Math.max(0, held.length - MAX_TOKENS_PER_ACCOUNT + 1))) {
        entries.delete(key);
      }
      entries.set(digest(token), { account, binding, issued: now, used: now });
    });
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
    // Another instance (in cluster mode) may have issued or revoked it.
    await this.#writing;
    if (await this.#document.changed()) this.#entries = await this.#document.read() ?? new Map();
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
      await this.#save((entries) => entries.delete(key));
      return undefined;
    }
    // Revoked meanwhile elsewhere: the stored state decides.
    const kept = await this.#save((entries) => {
      const stored = entries.get(key);
      if (stored !== undefined) stored.used = now;
    });
    return kept.has(key) ? entry.account : undefined;
  }

  /**
   * Revoke one token (logout).
   *
   * @param token The token.
   */
  async revoke(token: string): Promise<void> {
    const key = digest(token);
    if (this.#entries.has(key)) {
      await this.#save((entries) => {
        entries.delete(key);
      });
    }
  }

  /**
   * Revoke every token of an account (password change, removal, role change).
   *
   * @param account The account id.
   */
  async revokeAccount(account: string): Promise<void> {
    const ofAccount = (entries: Entries) =>
      [...entries].filter(([, e]) => e.account === account).map(([key]) => key);
    const held = ofAccount(this.#entries).length;
    // Another instance may have stored tokens this one has not read yet.
    await this.#save((entries) => {
      const keys = ofAccount(entries);
      for (const key of keys) entries.delete(key);
      return held + keys.length > 0;
    });
  }

  /** Settles once every write started so far is done (for shutdown). */
  async settled(): Promise<void> {
    await this.#writing;
  }

  #expired(entry: TokenEntry, now: number): boolean {
    return now - entry.used >= this.#idleMs || now - entry.issued >= this.#maxAgeMs;
  }

  /**
   * Apply `change` to the tokens as stored now (and drop expired ones) and
   * write them; only once the stored value no longer holds a token is it
   * dropped here too, so a failed write never brings a revoked token back
   * after a restart.
   *
   * @returns The tokens written (as stored, when `change` returned false
   * and nothing expired: then nothing is written).
   */
  #save(change: (entries: Entries) => boolean | void): Promise<Entries> {
    const done = this.#writing.then(() =>
      this.#document.update((current) => {
        const now = this.#clock.now();
        const entries = new Map([...current ?? []].map(([key, e]) => [key, { ...e }]));
        let changed = change(entries) !== false;
        for (const [key, entry] of entries) {
          if (this.#expired(entry, now)) changed = entries.delete(key);
        }
        return { value: changed ? entries : undefined, result: entries };
      })
    ).then((entries) => {
      this.#entries = entries;
      return entries;
    });
    this.#writing = done.catch(() => undefined); // the caller sees the failure
    return done;
  }
}

type Entries = Map<string, TokenEntry>;

/**
 * A token file's text, as it is written: version {@linkcode TOKENS_FILE_VERSION}.
 *
 * @param entries The tokens, by digest.
 * @returns The text.
 */
export function serialiseTokens(entries: ReadonlyMap<string, Readonly<TokenEntry>>): string {
  return JSON.stringify({ version: TOKENS_FILE_VERSION, tokens: Object.fromEntries(entries) }) +
    "\n";
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * A parsed token file's tokens (none from a version 1 file: they were
 * bound to the account id alone), or what is wrong with it, worded to
 * follow its name ("is not a version 2 token file").
 *
 * @param value The file's parsed JSON.
 * @returns The tokens by digest, or the problem.
 */
export function parseTokenFile(value: unknown): Map<string, TokenEntry> | string {
  const version = isRecord(value) ? value["version"] : undefined;
  if (
    !isRecord(value) || (version !== 1 && version !== TOKENS_FILE_VERSION) ||
    !isRecord(value["tokens"])
  ) {
    return `is not a version ${TOKENS_FILE_VERSION} token file`;
  }
  const entries: Entries = new Map();
  // Version 1 tokens were bound to the account id alone: none is kept.
  if (version === 1) return entries;
  for (const [key, e] of Object.entries(value["tokens"])) {
    if (
      !/^[0-9a-f]{64}$/.test(key) || !isRecord(e) || typeof e["account"] !== "string" ||
      typeof e["binding"] !== "string" || !/^[0-9a-f]{64}$/.test(e["binding"]) ||
      typeof e["issued"] !== "number" || typeof e["used"] !== "number"
    ) return "holds an entry that is not a token";
    entries.set(key, {
      account: e["account"],
      binding: e["binding"],
      issued: e["issued"],
      used: e["used"],
    });
  }
  return entries;
}
