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
 * @module
 */
import { isRecord } from "../util/is_record.ts";
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

const ACCOUNT_ID = /^[A-Za-z0-9_-]{16,64}$/;
const CREDENTIALS_VERSION = 2;
const LOCKOUT_VERSION = 2;
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("it is not JSON");
  }
  if (!isRecord(value) || value.version !== CREDENTIALS_VERSION || !isRecord(value.users)) {
    throw bad(`it is not a version ${CREDENTIALS_VERSION} credentials file`);
  }
  const accounts = new Map<string, AccountRecord>();
  for (const [name, entry] of Object.entries(value.users)) {
    const shown = JSON.stringify(name.slice(0, 40));
    if (validateUserName(name) !== undefined) throw bad(`user ${shown} has an invalid name`);
    if (
      !isRecord(entry) || typeof entry.id !== "string" || !ACCOUNT_ID.test(entry.id) ||
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
  const sorted = [...accounts].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const users = Object.fromEntries(
    sorted.map(({ name, id, role, hash }) => [name, { id, role, hash }]),
  );
  return JSON.stringify({ version: CREDENTIALS_VERSION, users }, null, 2) + "\n";
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
export interface LockoutCounter {
  readonly failures: number;
  readonly level: number;
  readonly lockedUntil: number;
  readonly lastFailure: number;
}

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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("it is not JSON");
  }
  if (!isRecord(value) || value.version !== LOCKOUT_VERSION) {
    throw bad(
      `it is not a version ${LOCKOUT_VERSION} lockout file (a server of this version writes one at its next failed login)`,
    );
  }
  const tables = { pairs: new Map(), accounts: new Map(), ips: new Map() } as LockoutTables;
  for (const table of LOCKOUT_TABLES) {
    const records = value[table];
    if (!isRecord(records)) throw bad(`"${table}" is not an object`);
    for (const [key, record] of Object.entries(records)) {
      if (!isCounter(record)) {
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
    Object.fromEntries([...table].sort(([, a], [, b]) => a.lastFailure - b.lastFailure));
  return JSON.stringify({
    version: LOCKOUT_VERSION,
    pairs: sorted(tables.pairs),
    accounts: sorted(tables.accounts),
    ips: sorted(tables.ips),
  }) + "\n";
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

/** Whether `a` is the later record: a later lock, else a later failure. */
function later(a: LockoutCounter, b: LockoutCounter): boolean {
  if (a.lockedUntil !== b.lockedUntil) return a.lockedUntil > b.lockedUntil;
  return a.lastFailure > b.lastFailure;
}

function isCounter(value: unknown): value is LockoutCounter {
  return isRecord(value) &&
    (["failures", "level", "lockedUntil", "lastFailure"] as const).every((k) =>
      Number.isSafeInteger(value[k]) && (value[k] as number) >= 0
    );
}

/** A web session token as `tokens.json` holds it (keyed by the token's digest). */
export interface TokenRecord {
  readonly account: string;
  readonly binding: string;
  readonly issued: number;
  readonly used: number;
}

/** What {@linkcode mergeTokens} did. */
export interface TokensMerge {
  /** The next entry's text; `undefined` when nothing changes. */
  readonly text: string | undefined;
  readonly migrated: number;
  readonly already: number;
}

const TOKENS_VERSION = 2;
const HEX_64 = /^[0-9a-f]{64}$/;

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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("it is not JSON");
  }
  if (!isRecord(value) || value.version !== TOKENS_VERSION || !isRecord(value.tokens)) {
    throw bad(`it is not a version ${TOKENS_VERSION} token file`);
  }
  const tokens = new Map<string, TokenRecord>();
  for (const [key, e] of Object.entries(value.tokens)) {
    if (
      !HEX_64.test(key) || !isRecord(e) || typeof e.account !== "string" ||
      typeof e.binding !== "string" || !HEX_64.test(e.binding) ||
      typeof e.issued !== "number" || typeof e.used !== "number"
    ) throw bad("it holds an entry that is not a token");
    tokens.set(key, { account: e.account, binding: e.binding, issued: e.issued, used: e.used });
  }
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
  const text = JSON.stringify({ version: TOKENS_VERSION, tokens: Object.fromEntries(tokens) }) +
    "\n";
  return { text: migrated === 0 ? undefined : text, migrated, already };
}
