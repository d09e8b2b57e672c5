/**
 * Merging a single-node install's accounts, lockouts and web session tokens into the cluster's
 * `banter_auth` entries, which hold the exact text of a `credentials.json`
 * (docs/CREDENTIALS.md) and of a version 2 `lockout.json`. Pure: text in,
 * text and counts out; the KV compare-and-set is the caller's.
 *
 * - An account whose id the cluster holds under the same name is there
 *   already (the cluster's role and hash stand: they may be newer). One whose
 *   name (ignoring case) or id the cluster holds for another account is
 *   refused, and the cluster's kept.
 * - Lockout records merge per key: the one with the later lock stands
 *   (then the later failure); the cluster's on a tie.
 * - Web session tokens merge per token: one the cluster holds keeps its entry.
 *
 * The texts are written by lib/auth's own serialisers and the token entries
 * read by its parser; the account and lockout parsers here are stricter
 * than the stores' (version 2 only: no legacy forms, no ids minted, no keys
 * folded), so a migration refuses what a store would quietly rewrite.
 *
 * @module
 */
import { isRecord } from "../util/is_record.ts";
import {
  isLockoutCounter,
  LOCKOUT_FILE_VERSION,
  type LockoutCounter,
  serialiseLockoutTables,
} from "../auth/lockout.ts";
import {
  parseTokenFile,
  serialiseTokens,
  type TokenEntry,
  TOKENS_FILE_VERSION,
} from "../auth/session_tokens.ts";
import { ACCOUNT_ID_PATTERN, CREDENTIALS_VERSION, serialiseCredentials } from "../auth/store.ts";
import { validateUserName } from "../auth/user_name.ts";

/** An account as `credentials.json` version 2 holds it. */
export interface AccountRecord {
  readonly name: string;
  readonly id: string;
  readonly role: "user" | "admin";
  readonly hash: string;
}

/** An account the cluster could not take, and why (never a hash). */
export interface RefusedAccount {
  readonly name: string;
  readonly reason: string;
}

/** What {@linkcode mergeAccounts} did. */
export interface AccountsMerge {
  /** The next entry's text; `undefined` when nothing changes. */
  readonly text: string | undefined;
  readonly migrated: string[];
  readonly already: string[];
  readonly refused: RefusedAccount[];
}

/** What {@linkcode mergeLockouts} did. */
export interface LockoutsMerge {
  /** The next entry's text; `undefined` when nothing changes. */
  readonly text: string | undefined;
  readonly migrated: number;
  readonly already: number;
}

const LOCKOUT_TABLES = ["pairs", "accounts", "ips"] as const;

/**
 * Parse a version 2 credentials document.
 *
 * @param text The entry's text.
 * @param where What it is, for messages.
 * @returns The accounts, by name.
 * @throws {SyntaxError} Naming what is wrong (never a hash).
 */
export function parseAccounts(text: string, where: string): Map<string, AccountRecord> {
  const bad = (why: string) => new SyntaxError(`Cannot read ${where}: ${why}`);
  const value = parseJson(text, bad);
  if (!isRecord(value) || value.version !== CREDENTIALS_VERSION || !isRecord(value.users)) {
    throw bad(`it is not a version ${CREDENTIALS_VERSION} credentials file`);
  }
  const accounts = new Map<string, AccountRecord>();
  for (const [name, entry] of Object.entries(value.users)) {
    const shown = JSON.stringify(name.slice(0, 40));
    if (validateUserName(name) !== undefined) throw bad(`user ${shown} has an invalid name`);
    if (
      !isRecord(entry) || typeof entry.id !== "string" || !ACCOUNT_ID_PATTERN.test(entry.id) ||
      (entry.role !== "user" && entry.role !== "admin") || typeof entry.hash !== "string" ||
      entry.hash === ""
    ) throw bad(`user ${shown} is not an account with id, role and hash`);
    accounts.set(name, { name, id: entry.id, role: entry.role, hash: entry.hash });
  }
  return accounts;
}

/**
 * A credentials document's text, as `credentials.json` is written (names sorted).
 *
 * @param accounts The accounts.
 * @returns The text.
 */
export function serialiseAccounts(accounts: Iterable<AccountRecord>): string {
  return serialiseCredentials(new Map([...accounts].map((account) => [account.name, account])));
}

/**
 * Merge `source` accounts into the cluster's credentials text.
 *
 * @param current The cluster's entry, `undefined` when there is none.
 * @param source The single-node accounts.
 * @returns The next text and what happened to each account.
 * @throws {SyntaxError} When `current` is not a credentials document.
 */
export function mergeAccounts(
  current: string | undefined,
  source: Iterable<AccountRecord>,
): AccountsMerge {
  const accounts = current === undefined
    ? new Map<string, AccountRecord>()
    : parseAccounts(current, "the cluster's credentials");
  const migrated: string[] = [];
  const already: string[] = [];
  const refused: RefusedAccount[] = [];
  for (const account of source) {
    const same = accounts.get(account.name);
    if (same?.id === account.id) {
      already.push(account.name);
      continue;
    }
    const lower = account.name.toLowerCase();
    const clash = [...accounts.values()].find((held) => held.name.toLowerCase() === lower);
    const sameId = [...accounts.values()].find((held) => held.id === account.id);
    if (clash !== undefined) {
      refused.push({
        name: account.name,
        reason: `the cluster has ${JSON.stringify(clash.name)} with another account id`,
      });
    } else if (sameId !== undefined) {
      refused.push({
        name: account.name,
        reason: `the cluster has its account id under the name ${JSON.stringify(sameId.name)}`,
      });
    } else {
      accounts.set(account.name, account);
      migrated.push(account.name);
    }
  }
  return {
    text: migrated.length === 0 ? undefined : serialiseAccounts(accounts.values()),
    migrated,
    already,
    refused,
  };
}

/** A lockout counter, as `lockout.json` holds it. */
export type { LockoutCounter };

/** The three tables of a version 2 lockout document. */
export type LockoutTables = Record<(typeof LOCKOUT_TABLES)[number], Map<string, LockoutCounter>>;

/**
 * Parse a version 2 lockout document.
 *
 * @param text The file's or entry's text.
 * @param where What it is, for messages.
 * @returns The tables.
 * @throws {SyntaxError} Naming what is wrong.
 */
export function parseLockouts(text: string, where: string): LockoutTables {
  const bad = (why: string) => new SyntaxError(`Cannot read ${where}: ${why}`);
  const value = parseJson(text, bad);
  if (!isRecord(value) || value.version !== LOCKOUT_FILE_VERSION) {
    throw bad(
      `it is not a version ${LOCKOUT_FILE_VERSION} lockout file (a server of this version writes one at its next failed login)`,
    );
  }
  const tables = { pairs: new Map(), accounts: new Map(), ips: new Map() } as LockoutTables;
  for (const table of LOCKOUT_TABLES) {
    const records = value[table];
    if (!isRecord(records)) throw bad(`"${table}" is not an object`);
    for (const [key, record] of Object.entries(records)) {
      if (!isLockoutCounter(record)) {
        throw bad(`"${table}" entry ${JSON.stringify(key.slice(0, 64))} is not a counter`);
      }
      const { failures, level, lockedUntil, lastFailure } = record;
      tables[table].set(key, { failures, level, lockedUntil, lastFailure });
    }
  }
  return tables;
}

/**
 * A lockout document's text, as `lockout.json` is written (least recently
 * failed first in each table).
 *
 * @param tables The tables.
 * @returns The text.
 */
export function serialiseLockouts(tables: LockoutTables): string {
  const sorted = (table: Map<string, LockoutCounter>) =>
    new Map([...table].sort(([, a], [, b]) => a.lastFailure - b.lastFailure));
  return serialiseLockoutTables({
    pair: sorted(tables.pairs),
    account: sorted(tables.accounts),
    ip: sorted(tables.ips),
  });
}

/**
 * Merge the single-node lockout records into the cluster's lockout text.
 *
 * @param current The cluster's entry, `undefined` when there is none.
 * @param source The single-node `lockout.json` tables.
 * @returns The next text and how many records were taken or there already.
 * @throws {SyntaxError} When `current` is not a lockout document.
 */
export function mergeLockouts(current: string | undefined, source: LockoutTables): LockoutsMerge {
  const tables = current === undefined
    ? { pairs: new Map(), accounts: new Map(), ips: new Map() } as LockoutTables
    : parseLockouts(current, "the cluster's lockouts");
  let migrated = 0;
  let already = 0;
  for (const table of LOCKOUT_TABLES) {
    for (const [key, counter] of source[table]) {
      const held = tables[table].get(key);
      if (held === undefined || later(counter, held)) {
        tables[table].set(key, counter);
        migrated++;
      } else already++;
    }
  }
  return { text: migrated === 0 ? undefined : serialiseLockouts(tables), migrated, already };
}

/** `text` parsed; `bad("it is not JSON")` when it is not JSON. */
function parseJson(text: string, bad: (why: string) => SyntaxError): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw bad("it is not JSON");
  }
}

/** Whether `a` is the later record: a later lock, else a later failure. */
function later(a: LockoutCounter, b: LockoutCounter): boolean {
  if (a.lockedUntil !== b.lockedUntil) return a.lockedUntil > b.lockedUntil;
  return a.lastFailure > b.lastFailure;
}

/** A web session token as `tokens.json` holds it (keyed by the token's digest). */
export type TokenRecord = Readonly<TokenEntry>;

/** What {@linkcode mergeTokens} did. */
export interface TokensMerge {
  /** The next entry's text; `undefined` when nothing changes. */
  readonly text: string | undefined;
  readonly migrated: number;
  readonly already: number;
}

/**
 * Parse a version 2 session token document.
 *
 * @param text The file's or entry's text.
 * @param where What it is, for messages.
 * @returns The tokens, by digest.
 * @throws {SyntaxError} Naming what is wrong (never a token).
 */
export function parseTokens(text: string, where: string): Map<string, TokenRecord> {
  const bad = (why: string) => new SyntaxError(`Cannot read ${where}: ${why}`);
  const value = parseJson(text, bad);
  if (!isRecord(value) || value.version !== TOKENS_FILE_VERSION) {
    throw bad(`it is not a version ${TOKENS_FILE_VERSION} token file`);
  }
  // lib/auth's own reading; its problems read "is not ...", "holds ...".
  const tokens = parseTokenFile(value);
  if (typeof tokens === "string") throw bad(`it ${tokens}`);
  return tokens;
}

/**
 * Merge single-node session tokens into the cluster's token text: a token
 * there already keeps the cluster's entry.
 *
 * @param current The cluster's entry, `undefined` when there is none.
 * @param source The tokens to add, by digest.
 * @returns The next text and how many were added or there already.
 * @throws {SyntaxError} When `current` is not a token document.
 */
export function mergeTokens(
  current: string | undefined,
  source: ReadonlyMap<string, TokenRecord>,
): TokensMerge {
  const tokens = current === undefined
    ? new Map<string, TokenRecord>()
    : parseTokens(current, "the cluster's session tokens");
  let migrated = 0;
  let already = 0;
  for (const [key, token] of source) {
    if (tokens.has(key)) already++;
    else {
      tokens.set(key, token);
      migrated++;
    }
  }
  return { text: migrated === 0 ? undefined : serialiseTokens(tokens), migrated, already };
}
