/**
 * Temporary lockouts after failed logins, per account and per source
 * address, kept in a JSON file so a restart does not clear them.
 *
 * Policy (the defaults):
 * - Account: every {@linkcode ACCOUNT_LOCKOUT} `threshold` (3) consecutive
 *   failures lock the account, for 1 min the first time, 5 min the second
 *   and 15 min every further time. The failure count restarts at each lock.
 * - Source address: the same ladder after every 10 failures
 *   ({@linkcode IP_LOCKOUT}), whichever accounts they were for. IPv6
 *   addresses count per /64.
 * - A successful login clears the account's failures and ladder, but not
 *   the address's (a valid account must not reset guessing at others).
 * - A record is forgotten 24 h after its last failure once unlocked
 *   ({@linkcode LOCKOUT_FORGET_MS}), so the ladder restarts at 1 min.
 * - Names that are not accounts are counted like accounts, so a lockout
 *   never reveals which names exist.
 * - At most {@linkcode MAX_LOCKOUT_ENTRIES} records per scope; beyond that
 *   the least recently failed are dropped.
 *
 * Like the credentials file, every change takes a lock file, re-reads the
 * file and replaces it atomically, so `scripts/user.ts unlock` and the
 * server can both write it; {@linkcode Lockout.refresh} picks up changes.
 *
 * @module
 */
import { dirname } from "node:path";
import { addressGroup } from "../util/address_group.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { exists } from "../util/exists.ts";
import { isRecord } from "../util/is_record.ts";
import { LockedJsonFile } from "./_locked_json_file.ts";

/** When to lock and for how long. */
export interface LockoutRule {
  /** Consecutive failures that trigger a lock. */
  readonly threshold: number;
  /** Length of the 1st, 2nd, ... lock; the last repeats. */
  readonly durationsMs: readonly number[];
}

const LADDER_MS = Object.freeze([60_000, 300_000, 900_000]);
/** Per account: 3 failures, then 1 min, 5 min, 15 min, 15 min, ... */
export const ACCOUNT_LOCKOUT: LockoutRule = Object.freeze({
  threshold: 3,
  durationsMs: LADDER_MS,
});
/** Per source address: 10 failures, then the same ladder. */
export const IP_LOCKOUT: LockoutRule = Object.freeze({
  threshold: 10,
  durationsMs: LADDER_MS,
});
/** How long after its last failure an unlocked record is forgotten. */
export const LOCKOUT_FORGET_MS = 24 * 60 * 60 * 1000;
/** Records kept per scope (accounts, addresses). */
export const MAX_LOCKOUT_ENTRIES = 10_000;
const FILE_VERSION = 1;

/** What a lock applies to. */
export type LockoutScope = "account" | "ip";

/** Whether a login may be attempted now. */
export type LockoutStatus =
  | { readonly locked: false }
  | {
    readonly locked: true;
    /** Milliseconds until the lock ends. */
    readonly retryAfterMs: number;
    /** Whether the account or the source address is locked. */
    readonly scope: LockoutScope;
  };

/** The outcome of {@linkcode Lockout.recordFailure}. */
export interface FailureResult {
  /** This failure started a lock (worth an alert). */
  readonly newLock: boolean;
  /** The status after this failure. */
  readonly status: LockoutStatus;
}

/** Options for {@linkcode Lockout.open}. */
export interface LockoutOptions {
  /** Time source. @default {systemClock} */
  clock?: Clock;
  /** Per-account rule. @default {ACCOUNT_LOCKOUT} */
  account?: LockoutRule;
  /** Per-address rule. @default {IP_LOCKOUT} */
  ip?: LockoutRule;
  /** Records kept per scope. @default {MAX_LOCKOUT_ENTRIES} */
  maxEntries?: number;
  /** How long a change waits for another writer's lock. @default {10000} */
  lockTimeoutMs?: number;
}

interface Counter {
  /** Failures since the last lock or success. */
  failures: number;
  /** Locks so far: the step of the ladder the next lock uses. */
  level: number;
  /** End of the current lock (ms since the epoch); 0 when none. */
  lockedUntil: number;
  lastFailure: number;
}
type Tables = Record<LockoutScope, Map<string, Counter>>;

const UNLOCKED: LockoutStatus = Object.freeze({ locked: false });

/**
 * Failed-login counters and lockouts.
 *
 * @example Three wrong passwords lock the account for a minute
 * ```ts
 * import { Lockout } from "./lockout.ts";
 * import { systemClock } from "../util/clock.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * // Real timers, fixed time, so the lock's length is exact.
 * const clock = { ...systemClock, now: () => 1_000_000 };
 * const lockout = await Lockout.open(`${dir}/lockout.json`, { clock });
 * await lockout.recordFailure("alice", "192.0.2.1");
 * await lockout.recordFailure("alice", "192.0.2.1");
 * const { newLock, status } = await lockout.recordFailure("alice", "192.0.2.1");
 * equal(newLock, true);
 * equal(status.locked && status.retryAfterMs, 60_000);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Lockout {
  #path: string;
  #file: LockedJsonFile<Tables>;
  #clock: Clock;
  #rules: Record<LockoutScope, LockoutRule>;
  #maxEntries: number;
  #tables: Tables = emptyTables();

  private constructor(path: string, options: LockoutOptions) {
    this.#path = path;
    this.#clock = options.clock ?? systemClock;
    this.#file = new LockedJsonFile(path, {
      parse: parseTables,
      serialise,
      invalid: (problem, errorOptions) =>
        new SyntaxError(`Cannot load lockout state from ${path}: ${problem}`, errorOptions),
    }, { lockTimeoutMs: options.lockTimeoutMs, clock: this.#clock });
    this.#rules = {
      account: checkRule(options.account ?? ACCOUNT_LOCKOUT),
      ip: checkRule(options.ip ?? IP_LOCKOUT),
    };
    this.#maxEntries = options.maxEntries ?? MAX_LOCKOUT_ENTRIES;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new RangeError(
        `Cannot create lockout: maxEntries must be a positive integer, got ${this.#maxEntries}`,
      );
    }
  }

  /**
   * Load the lockout file; a missing file means no failures yet.
   *
   * @param path The lockout file, e.g. `data/lockout.json`.
   * @param options Clock, rules and bounds.
   * @returns The loaded lockouts.
   * @throws {SyntaxError} When the file is not a valid lockout file.
   * @throws {RangeError} When a rule or bound is out of range.
   */
  static async open(
    path: string,
    options: LockoutOptions = {},
  ): Promise<Lockout> {
    const lockout = new Lockout(path, options);
    await lockout.refresh();
    return lockout;
  }

  /** The file this reads and writes. */
  get path(): string {
    return this.#path;
  }

  /**
   * Reload the file if another process changed it (one `stat` when not).
   *
   * @returns Whether the file was reloaded.
   * @throws {SyntaxError} When the changed file is not valid.
   */
  async refresh(): Promise<boolean> {
    if (!await this.#file.changed()) return false;
    this.#tables = await this.#file.read() ?? emptyTables();
    return true;
  }

  /**
   * Whether `account` or `ip` is locked now.
   *
   * @param account The account name, or `undefined` to check only `ip`.
   * @param ip The source address.
   * @returns The longer of the two locks, if any.
   */
  status(account: string | undefined, ip: string): LockoutStatus {
    const now = this.#clock.now();
    let status = UNLOCKED;
    for (const [scope, key] of this.#keys(account, ip)) {
      const lockedUntil = this.#tables[scope].get(key)?.lockedUntil ?? 0;
      const retryAfterMs = lockedUntil - now;
      if (
        retryAfterMs > 0 &&
        !(status.locked && status.retryAfterMs >= retryAfterMs)
      ) {
        status = { locked: true, retryAfterMs, scope };
      }
    }
    return status;
  }

  /**
   * Failures each scope still allows before its next lock (0 while locked).
   * The authenticator admits at most this many attempts at once, so parallel
   * guesses cannot outrun the count.
   *
   * @param account The account name, or `undefined` for none.
   * @param ip The source address.
   * @returns Remaining failures per scope; `account` is undefined without one.
   */
  remaining(account: string | undefined, ip: string): { account?: number; ip: number } {
    const now = this.#clock.now();
    const result: { account?: number; ip: number } = { ip: 0 };
    for (const [scope, key] of this.#keys(account, ip)) {
      const counter = this.#tables[scope].get(key);
      const left = counter === undefined
        ? this.#rules[scope].threshold
        : counter.lockedUntil > now
        ? 0
        : this.#rules[scope].threshold - counter.failures;
      result[scope] = left;
    }
    return result;
  }

  /**
   * Count a failed login. Nothing is counted while already locked.
   *
   * @param account The account name, or `undefined` when the name was not
   * even valid (only the address is counted).
   * @param ip The source address.
   * @returns Whether this failure started a lock, and the status after it.
   */
  async recordFailure(
    account: string | undefined,
    ip: string,
  ): Promise<FailureResult> {
    return await this.#change((tables, now) => {
      const before = this.status(account, ip);
      if (before.locked) return { newLock: false, status: before };
      let newLock = false;
      for (const [scope, key] of this.#keys(account, ip)) {
        const rule = this.#rules[scope];
        const counter = tables[scope].get(key) ??
          { failures: 0, level: 0, lockedUntil: 0, lastFailure: now };
        counter.failures++;
        counter.lastFailure = now;
        if (counter.failures >= rule.threshold) {
          const step = Math.min(counter.level, rule.durationsMs.length - 1);
          counter.lockedUntil = now + (rule.durationsMs[step] ?? 0);
          counter.level++;
          counter.failures = 0;
          newLock = true;
        }
        // Re-insert so map order is least recently failed first.
        tables[scope].delete(key);
        tables[scope].set(key, counter);
      }
      return { newLock, status: this.status(account, ip) };
    });
  }

  /**
   * Count a successful login: clears the account's failures and ladder.
   *
   * @param account The account that logged in.
   * @param _ip The source address: deliberately not cleared, so a valid
   * account cannot reset an address's guessing at other accounts.
   */
  async recordSuccess(account: string, _ip?: string): Promise<void> {
    if (!this.#tables.account.has(account)) return;
    await this.#change((tables) => tables.account.delete(account));
  }

  /**
   * Lift an account's lock and forget its failures (admin action).
   *
   * @param account The account.
   * @returns Whether there was anything to clear.
   */
  async unlock(account: string): Promise<boolean> {
    // No file, nothing to lift (and no data directory created by mistake).
    if (!await exists(this.#path)) return false;
    return await this.#change((tables) => tables.account.delete(account));
  }

  #keys(account: string | undefined, ip: string): [LockoutScope, string][] {
    const keys: [LockoutScope, string][] = [["ip", addressGroup(ip)]];
    if (account !== undefined) keys.unshift(["account", account]);
    return keys;
  }

  /** Lock, re-read, apply `change`, write if anything changed, unlock. */
  async #change<T>(change: (tables: Tables, now: number) => T): Promise<T> {
    await Deno.mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    return await this.#file.update((current) => {
      const now = this.#clock.now();
      this.#tables = current ?? emptyTables();
      const before = serialise(this.#tables);
      const result = change(this.#tables, now);
      this.#prune(now);
      const changed = serialise(this.#tables) !== before;
      return { value: changed ? this.#tables : undefined, result };
    });
  }

  #prune(now: number): void {
    for (const table of Object.values(this.#tables)) {
      for (const [key, counter] of table) {
        if (
          counter.lockedUntil <= now &&
          now - counter.lastFailure >= LOCKOUT_FORGET_MS
        ) table.delete(key);
      }
      for (const key of table.keys()) {
        if (table.size <= this.#maxEntries) break;
        table.delete(key);
      }
    }
  }
}

function checkRule(rule: LockoutRule): LockoutRule {
  if (
    !Number.isInteger(rule.threshold) || rule.threshold < 1 ||
    rule.durationsMs.length === 0 ||
    !rule.durationsMs.every((ms) => Number.isFinite(ms) && ms > 0)
  ) {
    throw new RangeError(
      "Cannot create lockout: a rule needs a positive threshold and positive durations",
    );
  }
  return rule;
}

function emptyTables(): Tables {
  return { account: new Map(), ip: new Map() };
}

function serialise(tables: Tables): string {
  return JSON.stringify({
    version: FILE_VERSION,
    accounts: Object.fromEntries(tables.account),
    ips: Object.fromEntries(tables.ip),
  }) + "\n";
}

function parseTables(value: unknown): Tables | string {
  if (!isRecord(value) || value.version !== FILE_VERSION) {
    return `expected {"version":${FILE_VERSION},"accounts":{...},"ips":{...}}`;
  }
  const tables = emptyTables();
  for (
    const [scope, field] of [["account", "accounts"], ["ip", "ips"]] as const
  ) {
    const records = value[field];
    if (!isRecord(records)) return `"${field}" must be an object`;
    const entries: [string, Counter][] = [];
    for (const [key, record] of Object.entries(records)) {
      if (!isCounter(record)) {
        return `"${field}" entry ${JSON.stringify(key.slice(0, 64))} is not a counter`;
      }
      const { failures, level, lockedUntil, lastFailure } = record;
      entries.push([key, { failures, level, lockedUntil, lastFailure }]);
    }
    // Least recently failed first, as the in-memory order.
    entries.sort(([, a], [, b]) => a.lastFailure - b.lastFailure);
    tables[scope] = new Map(entries);
  }
  return tables;
}

function isCounter(value: unknown): value is Counter {
  return isRecord(value) &&
    (["failures", "level", "lockedUntil", "lastFailure"] as const).every((k) =>
      Number.isSafeInteger(value[k]) && (value[k] as number) >= 0
    );
}
