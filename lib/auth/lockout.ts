/**
 * Temporary lockouts after failed logins, kept in a JSON file so a restart
 * does not clear them.
 *
 * Policy (the defaults):
 * - Account from one address: every {@linkcode ACCOUNT_LOCKOUT} `threshold`
 *   (3) consecutive failures on an account from one source address lock
 *   that account *from that address*, for 1 min the first time, 5 min the
 *   second and 15 min every further time. The failure count restarts at
 *   each lock. Other addresses are not locked out of the account, so a
 *   stranger who knows a name cannot lock its owner out.
 * - Account from anywhere: from {@linkcode ACCOUNT_SLOWDOWN} `threshold`
 *   (3) consecutive failures from any addresses on, the account is slowed
 *   down, never locked: its password checks follow one schedule for the
 *   account, each at least the current delay (1 s, 2 s, 4 s, then 8 s)
 *   after the previous check and after the last failure. Each check
 *   reserves the next slot when it arrives ({@linkcode Lockout.reserve}),
 *   so parallel attempts from any number of addresses are spread out: at
 *   most one guess per delay (8 s: 450 an hour) per account. At most
 *   {@linkcode MAX_SLOWED_WAITING} checks wait for a slot per account; more
 *   are answered busy, unchecked.
 * - Known addresses: an address (IPv6: /64) that logged in to the account
 *   with its password in the last {@linkcode KNOWN_ADDRESS_FORGET_MS} skips
 *   the schedule (its own lock ladder still applies), so attackers filling
 *   the schedule do not keep the owner out from where he usually logs in.
 *   A shared schedule cannot tell the owner from a new address apart from
 *   an attacker: there he waits his turn or is answered busy (certificate
 *   logins are never slowed). Known addresses are kept in memory only.
 * - Source address: the lock ladder after every 10 failures
 *   ({@linkcode IP_LOCKOUT}), whichever accounts they were for. IPv6
 *   addresses count per /64.
 * - A successful login clears the account's slow-down and its failures
 *   from that address, but not the address's own count (a valid account
 *   must not reset guessing at others).
 * - A record is forgotten 24 h after its last failure once unlocked
 *   ({@linkcode LOCKOUT_FORGET_MS}), so the ladder restarts at 1 min.
 * - Names that are not accounts are counted like accounts, so a lockout
 *   never reveals which names exist.
 * - Names are compared ignoring ASCII case ({@linkcode foldUserName}, as
 *   the chat compares them): failures as `ALICE` count toward `alice` and
 *   `unlock alice` lifts them. Records in the file are kept under the
 *   folded name; older files are folded as they are read, records of one
 *   name in several cases merged.
 * - At most {@linkcode MAX_LOCKOUT_ENTRIES} records per table; beyond that
 *   the least recently failed are dropped.
 *
 * Like the credentials file, every change takes a lock file, re-reads the
 * file and replaces it atomically, so `scripts/user.ts unlock` and the
 * server can both write it; {@linkcode Lockout.refresh} picks up changes.
 * The file is versioned: version 1 files (whole-account locks) are read and
 * their account counts become slow-down counts.
 *
 * @module
 */
import { addressGroup } from "../util/address_group.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { isRecord } from "../util/is_record.ts";
import { LockedJsonFile } from "./_locked_json_file.ts";
import type { JsonDocument, JsonDocumentOpener, JsonFormat } from "./json_document.ts";
import { foldUserName } from "./user_name.ts";

/** When to lock and for how long. */
export interface LockoutRule {
  /** Consecutive failures that trigger a lock. */
  readonly threshold: number;
  /** Length of the 1st, 2nd, ... lock; the last repeats. */
  readonly durationsMs: readonly number[];
}

/** How password checks on a much-failed account are slowed down. */
export interface SlowdownRule {
  /** Consecutive failures (from any address) before checks are delayed. */
  readonly threshold: number;
  /** Delay after the failure that reaches the threshold; it doubles with
   * each further failure. */
  readonly firstDelayMs: number;
  /** The longest delay. */
  readonly maxDelayMs: number;
}

const LADDER_MS = Object.freeze([60_000, 300_000, 900_000]);
/** Per account and source address: 3 failures, then 1 min, 5 min, 15 min,
 * 15 min, ... */
export const ACCOUNT_LOCKOUT: LockoutRule = Object.freeze({
  threshold: 3,
  durationsMs: LADDER_MS,
});
/** Per source address: 10 failures, then the same ladder. */
export const IP_LOCKOUT: LockoutRule = Object.freeze({
  threshold: 10,
  durationsMs: LADDER_MS,
});
/** Per account from anywhere: from the 3rd failure in a row, each check
 * waits 1 s, 2 s, 4 s, then 8 s after the last failure. */
export const ACCOUNT_SLOWDOWN: SlowdownRule = Object.freeze({
  threshold: 3,
  firstDelayMs: 1_000,
  maxDelayMs: 8_000,
});
/** Password checks on one slowed-down account that may wait for their
 * slot at once; more are answered busy. At an 8 s delay the last of them
 * waits at most 24 s, inside the 30 s login deadline. */
export const MAX_SLOWED_WAITING = 3;
/** How long an address that logged in to an account keeps skipping the
 * account's slow-down (30 days). */
export const KNOWN_ADDRESS_FORGET_MS = 30 * 24 * 60 * 60 * 1000;
/** How long after its last failure an unlocked record is forgotten. */
export const LOCKOUT_FORGET_MS = 24 * 60 * 60 * 1000;
/** Records kept per table (account from an address, account, address). */
export const MAX_LOCKOUT_ENTRIES = 10_000;
/** Failures and successes kept in memory while the file cannot be written;
 * beyond this the oldest unsaved ones are dropped. */
export const MAX_UNSAVED_CHANGES = 10_000;
/** The file format written; version 1 is still read. */
export const LOCKOUT_FILE_VERSION = 2;

/** What a lock applies to: the account from the failing address, or the
 * address for every account. */
export type LockoutScope = "account" | "ip";

/** Whether a login may be attempted now. */
export type LockoutStatus =
  | { readonly locked: false }
  | {
    readonly locked: true;
    /** Milliseconds until the lock ends. */
    readonly retryAfterMs: number;
    /** Whether the account (from this address) or the address is locked. */
    readonly scope: LockoutScope;
  };

/** One lock or slow-down in force, as {@linkcode Lockout.locks} lists it. */
export type LockEntry =
  | {
    /** The account is locked from one address (group). */
    readonly kind: "account";
    /** The account name, folded ({@linkcode foldUserName}). */
    readonly account: string;
    /** The address group it is locked from (IPv6: a /64). */
    readonly address: string;
    /** Milliseconds until the lock ends. */
    readonly retryAfterMs: number;
  }
  | {
    /** Every account is locked from this address (group). */
    readonly kind: "ip";
    readonly address: string;
    readonly retryAfterMs: number;
  }
  | {
    /** Password checks on the account are spaced out, from every address. */
    readonly kind: "slowdown";
    /** The account name, folded ({@linkcode foldUserName}). */
    readonly account: string;
    /** The current spacing of checks. */
    readonly delayMs: number;
  };

/** What {@linkcode Lockout.unlockAccount} lifted. */
export interface AccountUnlock {
  /** Address groups the account was locked from (locks in force), with
   * the time each had left. */
  readonly lockedFrom: readonly { readonly address: string; readonly retryAfterMs: number }[];
  /** Failure records of the account from addresses, locked or not. */
  readonly records: number;
  /** Whether the account's slow-down (or its failure count) was cleared. */
  readonly slowdown: boolean;
}

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
  /** Per account and address rule. @default {ACCOUNT_LOCKOUT} */
  account?: LockoutRule;
  /** Per-address rule. @default {IP_LOCKOUT} */
  ip?: LockoutRule;
  /** Per-account slow-down. @default {ACCOUNT_SLOWDOWN} */
  slowdown?: SlowdownRule;
  /** Records kept per table (and slow-down schedules, known addresses).
   * @default {MAX_LOCKOUT_ENTRIES} */
  maxEntries?: number;
  /** Checks waiting for a slot per slowed-down account.
   * @default {MAX_SLOWED_WAITING} */
  maxSlowedWaiting?: number;
  /** How long a change waits for another writer's lock. @default {10000} */
  lockTimeoutMs?: number;
  /** Replaces the file's content (a seam for a full disk in tests).
   * @default {writeFileAtomic} */
  writeFile?: (path: string, text: string) => Promise<void>;
}

/** A failure counter, as the lockout file holds it. */
export interface LockoutCounter {
  /** Failures since the last lock or success. */
  failures: number;
  /** Locks so far: the step of the ladder the next lock uses. */
  level: number;
  /** End of the current lock (ms since the epoch); 0 when none. */
  lockedUntil: number;
  /** The last failure (ms since the epoch). */
  lastFailure: number;
}
/** `pair` is keyed by {@linkcode pairKey}, `account` by the folded name
 * ({@linkcode foldUserName}), `ip` by {@linkcode addressGroup}. */
type Table = "pair" | "account" | "ip";
type Tables = Record<Table, Map<string, LockoutCounter>>;

/** One slowed-down account's schedule of password checks. */
interface Schedule {
  /** The earliest start of the next check (ms since the epoch). */
  next: number;
  /** Starts reserved and still in the future. */
  waiting: number[];
}

const UNLOCKED: LockoutStatus = Object.freeze({ locked: false });

/**
 * Failed-login counters, lockouts and slow-downs.
 *
 * @example Three wrong passwords lock the account from that address
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
 * equal(lockout.status("alice", "198.51.100.1").locked, false);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Lockout {
  #path: string;
  #file: JsonDocument<Tables>;
  #clock: Clock;
  #rules: Record<LockoutScope, LockoutRule>;
  #slowdown: SlowdownRule;
  #maxEntries: number;
  #maxSlowedWaiting: number;
  #tables: Tables = emptyTables();
  /** Per folded account name; in memory only (a restart forgets reservations,
   * the failures that cause the delay are in the file). */
  #schedules = new Map<string, Schedule>();
  /** {@linkcode pairKey} to the time of the last password login from there. */
  #known = new Map<string, number>();
  /** Changes counted in memory that the file does not have yet, replayed
   * onto the file's content at each change until a write succeeds. */
  #unsaved: ((tables: Tables) => void)[] = [];
  #writeError: Error | undefined;

  private constructor(source: string | JsonDocumentOpener, options: LockoutOptions) {
    this.#clock = options.clock ?? systemClock;
    const format: JsonFormat<Tables> = {
      parse: parseTables,
      serialise: serialiseLockoutTables,
      invalid: (problem, errorOptions) =>
        new SyntaxError(`Cannot load lockout state from ${this.#path}: ${problem}`, errorOptions),
    };
    this.#file = typeof source === "string"
      ? new LockedJsonFile(source, format, {
        lockTimeoutMs: options.lockTimeoutMs,
        clock: this.#clock,
        writeFile: options.writeFile,
        createDirectory: true,
      })
      : source(format);
    this.#path = this.#file.description;
    this.#rules = {
      account: checkRule(options.account ?? ACCOUNT_LOCKOUT),
      ip: checkRule(options.ip ?? IP_LOCKOUT),
    };
    this.#slowdown = checkSlowdown(options.slowdown ?? ACCOUNT_SLOWDOWN);
    this.#maxEntries = options.maxEntries ?? MAX_LOCKOUT_ENTRIES;
    this.#maxSlowedWaiting = options.maxSlowedWaiting ?? MAX_SLOWED_WAITING;
    for (
      const [name, value] of [
        ["maxEntries", this.#maxEntries],
        ["maxSlowedWaiting", this.#maxSlowedWaiting],
      ] as const
    ) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot create lockout: ${name} must be a positive integer, got ${value}`,
        );
      }
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
    return await Lockout.#open(path, options);
  }

  /**
   * Load the lockouts from a document other than a file (a NATS KV entry
   * in cluster mode); nothing stored means no failures yet.
   *
   * @param open Opens the document with the lockout format.
   * @param options Clock, rules and bounds.
   * @returns The loaded lockouts.
   * @throws {SyntaxError} When the stored value is not valid lockout state.
   * @throws {RangeError} When a rule or bound is out of range.
   */
  static async openDocument(
    open: JsonDocumentOpener,
    options: LockoutOptions = {},
  ): Promise<Lockout> {
    return await Lockout.#open(open, options);
  }

  static async #open(
    source: string | JsonDocumentOpener,
    options: LockoutOptions,
  ): Promise<Lockout> {
    const lockout = new Lockout(source, options);
    await lockout.refresh();
    return lockout;
  }

  /** Where this reads and writes: the file, or the document's description. */
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
    for (const change of this.#unsaved) change(this.#tables);
    return true;
  }

  /**
   * Why the last change could not be written, while changes are counted
   * in memory only; `undefined` once everything is saved. While set, a
   * restart would lose failures: the authenticator refuses password logins.
   */
  get writeError(): Error | undefined {
    return this.#writeError;
  }

  /**
   * Try again to write the changes counted in memory only.
   *
   * @returns Whether everything is saved now.
   */
  async flush(): Promise<boolean> {
    if (this.#writeError === undefined) return true;
    await this.#change(() => undefined, false);
    return this.#writeError === undefined;
  }

  /**
   * Whether `account` is locked from `ip`, or `ip` is locked.
   *
   * @param account The account name, or `undefined` to check only `ip`.
   * @param ip The source address.
   * @returns The longer of the two locks, if any.
   */
  status(account: string | undefined, ip: string): LockoutStatus {
    const now = this.#clock.now();
    let status = UNLOCKED;
    for (const [table, key, scope] of this.#keys(account, ip)) {
      const lockedUntil = this.#tables[table].get(key)?.lockedUntil ?? 0;
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
   * How long a password check on `account` from `ip` would wait if it
   * arrived now (nothing is reserved; see {@linkcode Lockout.reserve}).
   *
   * @param account The account name.
   * @param ip The source address.
   * @returns Milliseconds to wait; 0 when the check may run now.
   */
  delayMs(account: string, ip: string): number {
    const now = this.#clock.now();
    const slot = this.#slot(account, ip, now);
    return slot === undefined ? 0 : slot.start - now;
  }

  /**
   * Reserve the next slot of a slowed-down account for a password check
   * from `ip`, so that parallel checks are spread one per delay. Checks
   * from an address that logged in to the account before skip the
   * schedule, and so do accounts that are not slowed down.
   *
   * @param account The account name (names that are not accounts are
   * scheduled the same way).
   * @param ip The source address.
   * @returns Milliseconds to wait before checking (0: now), or `undefined`
   * when {@linkcode MAX_SLOWED_WAITING} checks wait already: answer busy.
   */
  reserve(account: string, ip: string): number | undefined {
    const now = this.#clock.now();
    const slot = this.#slot(account, ip, now);
    const key = foldUserName(account);
    if (slot === undefined) return 0;
    const { start, stepMs, waiting } = slot;
    if (waiting.length >= this.#maxSlowedWaiting) return undefined;
    this.#pruneSchedules(now);
    if (!this.#schedules.has(key) && this.#schedules.size >= this.#maxEntries) {
      return undefined;
    }
    if (start > now) waiting.push(start);
    // Re-insert so map order is least recently reserved first.
    this.#schedules.delete(key);
    this.#schedules.set(key, { next: start + stepMs, waiting });
    return start - now;
  }

  /** The slot a check would get now: undefined when it is not slowed. */
  #slot(
    account: string,
    ip: string,
    now: number,
  ): { start: number; stepMs: number; waiting: number[] } | undefined {
    const counter = this.#tables.account.get(foldUserName(account));
    if (counter === undefined) return undefined;
    const known = this.#known.get(pairKey(account, ip));
    if (known !== undefined && now - known < KNOWN_ADDRESS_FORGET_MS) return undefined;
    const { threshold, firstDelayMs, maxDelayMs } = this.#slowdown;
    const over = counter.failures - threshold;
    if (over < 0) return undefined;
    const stepMs = Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(over, 30));
    const schedule = this.#schedules.get(foldUserName(account));
    const start = Math.max(now, counter.lastFailure + stepMs, schedule?.next ?? 0);
    const waiting = schedule?.waiting.filter((at) => at > now) ?? [];
    return { start, stepMs, waiting };
  }

  /** Forget schedules whose slots have all passed, oldest first. */
  #pruneSchedules(now: number): void {
    for (const [account, schedule] of this.#schedules) {
      if (schedule.next > now) break;
      this.#schedules.delete(account);
    }
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
      for (const [table, key, scope] of this.#keys(account, ip)) {
        const counter = bump(tables[table], key, now);
        const rule = this.#rules[scope];
        if (counter.failures >= rule.threshold) {
          const step = Math.min(counter.level, rule.durationsMs.length - 1);
          counter.lockedUntil = now + (rule.durationsMs[step] ?? 0);
          counter.level++;
          counter.failures = 0;
          newLock = true;
        }
      }
      if (account !== undefined) bump(tables.account, foldUserName(account), now);
      return { newLock, status: this.status(account, ip) };
    });
  }

  /**
   * Count a successful login: clears the account's slow-down and its
   * failures and ladder from `ip`, and makes `ip` a known address of the
   * account (it skips the account's schedule from then on).
   *
   * @param account The account that logged in.
   * @param ip The source address. Its own count is deliberately not
   * cleared, so a valid account cannot reset an address's guessing at
   * other accounts.
   */
  async recordSuccess(account: string, ip: string): Promise<void> {
    const pair = pairKey(account, ip);
    const key = foldUserName(account);
    this.#known.delete(pair);
    this.#known.set(pair, this.#clock.now());
    for (const key of this.#known.keys()) {
      if (this.#known.size <= this.#maxEntries) break;
      this.#known.delete(key);
    }
    this.#schedules.delete(key);
    if (!this.#tables.account.has(key) && !this.#tables.pair.has(pair)) return;
    await this.#change((tables) => {
      tables.account.delete(key);
      tables.pair.delete(pair);
    });
  }

  /**
   * Lift an account's locks from every address and its slow-down (admin
   * action).
   *
   * @param account The account.
   * @returns Whether there was anything to clear.
   */
  async unlock(account: string): Promise<boolean> {
    // No file, nothing to lift (and no data directory created by mistake).
    if (!await this.#file.exists()) return false;
    const name = foldUserName(account);
    const cleared = await this.#change((tables) => {
      let cleared = tables.account.delete(name);
      const prefix = `${name} `;
      for (const key of tables.pair.keys()) {
        if (key.startsWith(prefix)) cleared = tables.pair.delete(key) || cleared;
      }
      return cleared;
    });
    if (this.#writeError !== undefined) {
      throw new Error(`Cannot unlock "${account}": ${this.#writeError.message}`, {
        cause: this.#writeError,
      });
    }
    return cleared;
  }

  /**
   * Lift an account's locks from every address and its slow-down, and say
   * which (admin action).
   *
   * @param account The account.
   * @returns The addresses it was locked from and what else was cleared.
   * @throws {Error} When the file cannot be written.
   */
  async unlockAccount(account: string): Promise<AccountUnlock> {
    const none: AccountUnlock = { lockedFrom: [], records: 0, slowdown: false };
    if (!await this.#file.exists()) return none;
    const name = foldUserName(account);
    const result = await this.#change((tables, now) => {
      const lockedFrom: { address: string; retryAfterMs: number }[] = [];
      let records = 0;
      const slowdown = tables.account.delete(name);
      const prefix = `${name} `;
      for (const [key, counter] of tables.pair) {
        if (!key.startsWith(prefix)) continue;
        const retryAfterMs = counter.lockedUntil - now;
        if (retryAfterMs > 0) lockedFrom.push({ address: key.slice(prefix.length), retryAfterMs });
        tables.pair.delete(key);
        records++;
      }
      return { lockedFrom, records, slowdown };
    });
    this.#schedules.delete(name);
    this.#throwWriteError(`unlock "${account}"`);
    return result;
  }

  /**
   * Lift the lock of an address (group) on every account, and forget its
   * failures (admin action). Locks of single accounts from it stay.
   *
   * @param ip The address; IPv6 addresses name their /64.
   * @returns The retry time the lock had left, 0 when it was not locked,
   * or `undefined` when the address had no failures at all.
   * @throws {Error} When the file cannot be written.
   */
  async unlockAddress(ip: string): Promise<number | undefined> {
    if (!await this.#file.exists()) return undefined;
    const key = addressGroup(ip);
    const result = await this.#change((tables, now) => {
      const counter = tables.ip.get(key);
      if (counter === undefined) return undefined;
      tables.ip.delete(key);
      return Math.max(0, counter.lockedUntil - now);
    });
    this.#throwWriteError(`unlock address ${key}`);
    return result;
  }

  /**
   * The locks and slow-downs in force now: address locks (longest first),
   * then account locks (by name and address), then slow-downs.
   *
   * @returns One entry per lock.
   */
  locks(): LockEntry[] {
    const now = this.#clock.now();
    const ips: LockEntry[] = [];
    const accounts: LockEntry[] = [];
    const slowed: LockEntry[] = [];
    for (const [address, counter] of this.#tables.ip) {
      const retryAfterMs = counter.lockedUntil - now;
      if (retryAfterMs > 0) ips.push({ kind: "ip", address, retryAfterMs });
    }
    for (const [key, counter] of this.#tables.pair) {
      const retryAfterMs = counter.lockedUntil - now;
      const space = key.indexOf(" ");
      if (retryAfterMs <= 0 || space < 0) continue;
      accounts.push({
        kind: "account",
        account: key.slice(0, space),
        address: key.slice(space + 1),
        retryAfterMs,
      });
    }
    const { threshold, firstDelayMs, maxDelayMs } = this.#slowdown;
    for (const [account, counter] of this.#tables.account) {
      const over = counter.failures - threshold;
      if (over < 0) continue;
      const delayMs = Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(over, 30));
      slowed.push({ kind: "slowdown", account, delayMs });
    }
    const left = (entry: LockEntry) => "retryAfterMs" in entry ? entry.retryAfterMs : 0;
    ips.sort((a, b) => left(b) - left(a));
    const name = (entry: LockEntry) =>
      entry.kind === "account" ? `${entry.account} ${entry.address}` : "";
    accounts.sort((a, b) => name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
    return [...ips, ...accounts, ...slowed];
  }

  #throwWriteError(action: string): void {
    if (this.#writeError === undefined) return;
    throw new Error(`Cannot ${action}: ${this.#writeError.message}`, {
      cause: this.#writeError,
    });
  }

  #keys(account: string | undefined, ip: string): [Table, string, LockoutScope][] {
    const keys: [Table, string, LockoutScope][] = [["ip", addressGroup(ip), "ip"]];
    if (account !== undefined) keys.unshift(["pair", pairKey(account, ip), "account"]);
    return keys;
  }

  /**
   * Lock, re-read, apply the unsaved changes and `change`, write if anything
   * changed, unlock. When that fails (a full disk, a lock held too long, a
   * broken file), `change` still applies in memory and, with `keep`, is kept
   * to be written later, and {@linkcode Lockout.writeError} says why:
   * failures are never forgotten for want of a disk.
   */
  async #change<T>(change: (tables: Tables, now: number) => T, keep = true): Promise<T> {
    const now = this.#clock.now();
    let applied: { result: T } | undefined;
    try {
      const result = await this.#file.update((current) => {
        this.#tables = current ?? emptyTables();
        const before = serialiseLockoutTables(this.#tables);
        for (const unsaved of this.#unsaved) unsaved(this.#tables);
        // Forget stale records first, so a failure 24 h after the last one
        // starts its record (and ladder) afresh instead of reviving it.
        this.#prune(now);
        applied = { result: change(this.#tables, now) };
        this.#prune(now);
        const changed = serialiseLockoutTables(this.#tables) !== before;
        return { value: changed ? this.#tables : undefined, result: applied.result };
      });
      this.#unsaved = [];
      this.#writeError = undefined;
      return result;
    } catch (error) {
      // In memory the unsaved changes are applied already; add this one.
      if (applied === undefined) this.#prune(now);
      applied ??= { result: change(this.#tables, now) };
      this.#prune(now);
      if (keep) this.#unsaved.push((tables) => void change(tables, now));
      if (this.#unsaved.length > MAX_UNSAVED_CHANGES) this.#unsaved.shift();
      this.#writeError = error instanceof Error ? error : new Error(String(error));
      return applied.result;
    }
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

/** The `pair` table's key: the folded name and the address group (user
 * names have no spaces, address keys neither). */
function pairKey(account: string, ip: string): string {
  return `${foldUserName(account)} ${addressGroup(ip)}`;
}

/** A key read from a file, folded as {@linkcode pairKey} and the
 * `account` table fold theirs (files written before names were folded). */
function foldKey(table: Table, key: string): string {
  if (table === "ip") return key;
  const space = key.indexOf(" ");
  return space < 0 || table === "account"
    ? foldUserName(key)
    : `${foldUserName(key.slice(0, space))}${key.slice(space)}`;
}

/** Two records of one name in different cases, as one: every failure
 * counts, the higher ladder step, the later lock and failure. */
function merge(a: LockoutCounter, b: LockoutCounter): LockoutCounter {
  return {
    failures: a.failures + b.failures,
    level: Math.max(a.level, b.level),
    lockedUntil: Math.max(a.lockedUntil, b.lockedUntil),
    lastFailure: Math.max(a.lastFailure, b.lastFailure),
  };
}

/** Count one failure for `key`, moving it to the most recent end. */
function bump(table: Map<string, LockoutCounter>, key: string, now: number): LockoutCounter {
  const counter = table.get(key) ??
    { failures: 0, level: 0, lockedUntil: 0, lastFailure: now };
  counter.failures++;
  counter.lastFailure = now;
  // Re-insert so map order is least recently failed first.
  table.delete(key);
  table.set(key, counter);
  return counter;
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

function checkSlowdown(rule: SlowdownRule): SlowdownRule {
  const { threshold, firstDelayMs, maxDelayMs } = rule;
  if (
    !Number.isInteger(threshold) || threshold < 1 ||
    !(Number.isFinite(firstDelayMs) && firstDelayMs >= 0) ||
    !(Number.isFinite(maxDelayMs) && maxDelayMs >= firstDelayMs)
  ) {
    throw new RangeError(
      "Cannot create lockout: a slow-down needs a positive threshold and 0 <= firstDelayMs <= maxDelayMs",
    );
  }
  return rule;
}

function emptyTables(): Tables {
  return { pair: new Map(), account: new Map(), ip: new Map() };
}

/**
 * A lockout file's text, as it is written: version
 * {@linkcode LOCKOUT_FILE_VERSION}, each table in its map's order.
 *
 * @param tables The counters of each table.
 * @returns The text.
 */
export function serialiseLockoutTables(
  tables: Readonly<Record<Table, ReadonlyMap<string, Readonly<LockoutCounter>>>>,
): string {
  return JSON.stringify({
    version: LOCKOUT_FILE_VERSION,
    pairs: Object.fromEntries(tables.pair),
    accounts: Object.fromEntries(tables.account),
    ips: Object.fromEntries(tables.ip),
  }) + "\n";
}

const FIELDS: Record<1 | 2, readonly [Table, string][]> = {
  // Version 1 had whole-account locks; their counts become slow-down
  // counts (the lock itself is lifted: it could shut the owner out).
  1: [["account", "accounts"], ["ip", "ips"]],
  2: [["pair", "pairs"], ["account", "accounts"], ["ip", "ips"]],
};

function parseTables(value: unknown): Tables | string {
  if (!isRecord(value) || (value.version !== 1 && value.version !== LOCKOUT_FILE_VERSION)) {
    return `expected {"version":${LOCKOUT_FILE_VERSION},"pairs":{...},"accounts":{...},"ips":{...}}`;
  }
  const version = value.version;
  const tables = emptyTables();
  for (const [table, field] of FIELDS[version]) {
    const records = value[field];
    if (!isRecord(records)) return `"${field}" must be an object`;
    const folded = new Map<string, LockoutCounter>();
    for (const [key, record] of Object.entries(records)) {
      if (!isLockoutCounter(record)) {
        return `"${field}" entry ${JSON.stringify(key.slice(0, 64))} is not a counter`;
      }
      const { failures, level, lockedUntil, lastFailure } = record;
      const counter = version === 1 && table === "account"
        ? {
          failures: failures + level * ACCOUNT_LOCKOUT.threshold,
          level: 0,
          lockedUntil: 0,
          lastFailure,
        }
        : { failures, level, lockedUntil, lastFailure };
      const name = foldKey(table, key);
      const same = folded.get(name);
      folded.set(name, same === undefined ? counter : merge(same, counter));
    }
    // Least recently failed first, as the in-memory order.
    const entries = [...folded].sort(([, a], [, b]) => a.lastFailure - b.lastFailure);
    tables[table] = new Map(entries);
  }
  return tables;
}

/**
 * Whether `value` is a lockout file's counter: four non-negative safe integers.
 *
 * @param value A parsed record.
 * @returns Whether it is one.
 */
export function isLockoutCounter(value: unknown): value is LockoutCounter {
  return isRecord(value) &&
    (["failures", "level", "lockedUntil", "lastFailure"] as const).every((k) =>
      Number.isSafeInteger(value[k]) && (value[k] as number) >= 0
    );
}
