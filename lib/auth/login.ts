/**
 * Password and certificate logins: ties the credential store, the hasher
 * and the lockouts together.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { delay, systemClock, type Timers } from "../util/clock.ts";
import { escapeUntrusted } from "../util/untrusted_text.ts";
import { FairQueue, QueueFullError } from "./_fair_queue.ts";
import { CredentialsError } from "./errors.ts";
import { addressGroup } from "../util/address_group.ts";
import type { Hasher, VerifyResult } from "./hash.ts";
import type { Lockout, LockoutScope } from "./lockout.ts";
import type { CredentialStore, UserEntry, UserRole } from "./store.ts";
import { MAX_PASSWORD_LENGTH, validateUserName } from "./user_name.ts";

/** Who logged in. */
export interface AuthenticatedUser {
  /** The user name. */
  readonly name: string;
  /** What the user may do. */
  readonly role: UserRole;
  /** The account's stable id (see `UserEntry.id`). */
  readonly id: string;
}

/** The outcome of a login. Unknown user and wrong password are the same
 * `invalid`, on purpose. */
export type LoginResult =
  | { readonly ok: true; readonly user: AuthenticatedUser }
  | { readonly ok: false; readonly reason: "invalid" }
  | {
    readonly ok: false;
    readonly reason: "locked";
    readonly retryAfterMs: number;
    /** Which lock: this name from this address, or the address for every
     * name (then the answer is the same whatever name was tried). */
    readonly scope: LockoutScope;
  }
  | {
    /** Not checked now, for reasons of the server's (try again later). */
    readonly ok: false;
    readonly reason: "busy";
    /** For the user, e.g. {@linkcode LOGINS_PAUSED_MESSAGE}. */
    readonly message: string;
  };

/** Why password logins are refused while lockouts cannot be saved. */
export const LOGINS_PAUSED_MESSAGE = "Logins are paused: the server cannot record failed attempts";

/** A password login attempt. */
export interface LoginRequest {
  /** The name given (untrusted). */
  readonly username: string;
  /** The password given (untrusted). */
  readonly password: string;
  /** The source address, for per-address lockouts. */
  readonly ip: string;
}

/** A failed login that started a lock, for alerting. */
export interface LockoutEvent {
  /** Whether the account or the source address got locked. */
  readonly scope: LockoutScope;
  /** The name tried (it may not be an account; at most 64 characters). */
  readonly username: string;
  /** The source address. */
  readonly ip: string;
  /** How long the lock lasts. */
  readonly retryAfterMs: number;
}

/** Options for {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  /** The accounts. */
  store: CredentialStore;
  /** Verifies passwords and hashes upgrades. */
  hasher: Hasher;
  /** Failed-login counters. */
  lockout: Lockout;
  /** Timers for the slow-down of much-failed accounts.
   * @default {systemClock} */
  clock?: Timers;
  /** Errors that must not fail a login (a failed hash upgrade, an
   * unreadable lockout file); they never contain a password or hash.
   * @default {logs them with LogTape under ["banter", "auth"]} */
  onError?: (error: Error) => void;
  /** A failure started a lock.
   * @default {logs a warning with LogTape under ["banter", "auth"]} */
  onLockout?: (event: LockoutEvent) => void;
  /** Password checks at once; the rest queue, round robin by address.
   * @default {the hasher's maxConcurrent} */
  maxConcurrent?: number;
  /** Checks waiting over all addresses before more are answered `busy`.
   * @default {MAX_QUEUED_LOGINS} */
  maxQueued?: number;
  /** Checks waiting from one address before more are answered `busy`.
   * @default {MAX_QUEUED_LOGINS_PER_ADDRESS} */
  maxQueuedPerAddress?: number;
  /** A change of the lockout file could not be written (it is counted in
   * memory; each retry that fails is reported too). @default {nothing} */
  onLockoutWriteError?: (error: Error) => void;
  /** Password logins were paused because failures cannot be saved
   * (`error` says why), or resumed once they can (`undefined`).
   * @default {logs an error, then an info, with LogTape under ["banter", "auth"]} */
  onPause?: (error: Error | undefined) => void;
}

const INVALID: LoginResult = Object.freeze({ ok: false, reason: "invalid" });
/** Why a login is refused unchecked while the login queue is full. */
export const LOGINS_BUSY_MESSAGE = "Too many logins waiting, try again shortly";
/** Password checks waiting for a hash slot, over all addresses, before
 * more are answered `busy`. */
export const MAX_QUEUED_LOGINS = 256;
/** Password checks waiting for a hash slot from one address (IPv6: one /64)
 * before more from it are answered `busy`. */
export const MAX_QUEUED_LOGINS_PER_ADDRESS = 8;
const BUSY: LoginResult = Object.freeze({
  ok: false,
  reason: "busy",
  message: LOGINS_BUSY_MESSAGE,
});
const PAUSED: LoginResult = Object.freeze({
  ok: false,
  reason: "busy",
  message: LOGINS_PAUSED_MESSAGE,
});
/** Longer input cannot be a valid password (UTF-16 units ≥ code points /
 * 2); it is not hashed at its full size. */
const MAX_PASSWORD_UNITS = MAX_PASSWORD_LENGTH * 2;
/** Untrusted names in lockout events are cut to this length. */
const MAX_LOGGED_NAME = 64;

/**
 * Checks logins. Every password attempt for a name that is not locked costs
 * one full hash, whether the user exists or not, and unknown users get the
 * same `invalid` as wrong passwords. A login that matches a legacy or weak
 * hash upgrades it to the current parameters.
 *
 * Hashes are the scarce resource: each address (IPv6: each /64) has at most
 * one check in flight, free hash slots go round robin between the addresses
 * that wait, and the wait is bounded ({@linkcode MAX_QUEUED_LOGINS} in all,
 * {@linkcode MAX_QUEUED_LOGINS_PER_ADDRESS} per address): beyond it a login
 * is answered `busy` without a check. Checks on a slowed-down account wait
 * for their slot of its schedule ({@linkcode Lockout.reserve}) before they
 * queue; past the few that may wait, they are answered `busy` too.
 */
export class Authenticator {
  #store: CredentialStore;
  #hasher: Hasher;
  #lockout: Lockout;
  #clock: Timers;
  #onError: (error: Error) => void;
  #onLockout: (event: LockoutEvent) => void;
  #onLockoutWriteError: (error: Error) => void;
  #onPause: (error: Error | undefined) => void;
  #paused = false;
  readonly #queue: FairQueue;
  /** Each user a login returned, with the hash it was admitted under. */
  readonly #admitted = new WeakMap<AuthenticatedUser, string>();

  /**
   * Tie the parts together.
   *
   * @param options The parts and the error reporters.
   */
  constructor(options: AuthenticatorOptions) {
    this.#queue = new FairQueue({
      slots: options.maxConcurrent ?? options.hasher.maxConcurrent,
      maxQueued: options.maxQueued ?? MAX_QUEUED_LOGINS,
      maxQueuedPerKey: options.maxQueuedPerAddress ?? MAX_QUEUED_LOGINS_PER_ADDRESS,
    });
    this.#store = options.store;
    this.#hasher = options.hasher;
    this.#lockout = options.lockout;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? logError;
    this.#onLockout = options.onLockout ?? logLockout;
    this.#onLockoutWriteError = options.onLockoutWriteError ?? (() => {});
    this.#onPause = options.onPause ?? logPause;
  }

  /** Password checks waiting for a hash slot now. */
  get queued(): number {
    return this.#queue.queued;
  }

  /**
   * Check a user name and password.
   *
   * @param request Name, password and source address.
   * @returns The user, `invalid`, `locked` with the time to wait, or
   * `busy` when it was not checked (queue full, logins paused).
   */
  async login(request: LoginRequest): Promise<LoginResult> {
    const { username, ip } = request;
    await this.#refresh();
    const account = validateUserName(username) === undefined ? username : undefined;
    // Cheap refusals first, so they take no place in the queue.
    if (!await this.#writable()) return PAUSED;
    const status = this.#lockout.status(account, ip);
    if (status.locked) return locked(status.retryAfterMs, status.scope);
    // A much-failed account is slowed down for every address, never locked
    // for all: each check takes the next slot of the account's schedule, so
    // parallel attempts from many addresses are spread one per delay. Past
    // the few that may wait, the answer is busy. The wait holds no hash slot.
    const wait = account === undefined ? 0 : this.#lockout.reserve(account, ip);
    if (wait === undefined) return BUSY;
    if (wait > 0) await delay(this.#clock, wait);
    // One attempt per address at a time (parallel connections cannot make
    // more guesses than sequential ones), and the hash slots go round robin
    // between addresses, so a storm from a few addresses delays anyone else
    // by at most one attempt per storming address.
    try {
      return await this.#queue.run(addressGroup(ip), () => this.#attempt(request, account));
    } catch (error) {
      if (!(error instanceof QueueFullError)) throw error;
      return BUSY;
    }
  }

  async #attempt(request: LoginRequest, account: string | undefined): Promise<LoginResult> {
    const { username, password, ip } = request;
    // A failure that cannot be saved would be forgotten by a restart: no
    // password is checked until the lockout file can be written again.
    if (!await this.#writable()) return PAUSED;
    const status = this.#lockout.status(account, ip);
    if (status.locked) return locked(status.retryAfterMs, status.scope);
    const entry = account === undefined ? undefined : this.#store.get(account);
    const verdict = await this.#verify(entry, password);
    // The admin CLI may have changed the account while the hash ran, and
    // the server's refresh has then updated every live session but this
    // one: the password checked must still be the account's (one `stat`).
    // A broken file was reported by the refresh before the check; the last
    // good accounts stay in use.
    await this.#store.refresh().catch((error) => {
      if (!(error instanceof CredentialsError)) this.#onError(error);
    });
    if (!entry || !verdict.ok || this.#stillValid(entry, entry.hash) === undefined) {
      await this.#recordFailure(account, username, ip);
      return INVALID;
    }
    await this.#lockout.recordSuccess(entry.name, ip).catch((error) =>
      this.#onError(
        new Error(`Cannot clear failures of "${entry.name}"`, { cause: error }),
      )
    );
    this.#checkWrites();
    const hash = verdict.needsRehash ? await this.#upgrade(entry, password) : entry.hash;
    // Read once more after the last await, for the role too.
    const user = this.#stillValid(entry, hash);
    if (user === undefined) {
      await this.#recordFailure(account, username, ip);
      return INVALID;
    }
    return { ok: true, user };
  }

  /**
   * The user as the accounts are now, for a login about to enter the chat:
   * an account change seen between the login's check and the entry would
   * reach no session, so the caller checks again, synchronously, just
   * before it enters.
   *
   * @param user A user that this authenticator's `login` or
   * `loginWithCertificate` returned.
   * @returns The user with the role the account has now, or `undefined`
   * when the account was removed or re-created or its password changed
   * since the login checked it (or `user` did not come from here).
   */
  current(user: AuthenticatedUser): AuthenticatedUser | undefined {
    const hash = this.#admitted.get(user);
    return hash === undefined ? undefined : this.#stillValid(user, hash);
  }

  /** The user if the account `entry` still has its id and `hash`; the
   * user it returns is remembered with `hash` for {@linkcode current}. */
  #stillValid(
    entry: Pick<UserEntry, "name" | "id">,
    hash: string,
  ): AuthenticatedUser | undefined {
    const now = this.#store.get(entry.name);
    if (now === undefined || now.id !== entry.id || now.hash !== hash) return undefined;
    const user = { name: now.name, role: now.role, id: now.id };
    this.#admitted.set(user, hash);
    return user;
  }

  /**
   * Accept a client certificate (already verified by TLS against our CA)
   * whose common name is an existing user.
   *
   * @param commonName The certificate's subject CN.
   * @returns The user, or `invalid`.
   */
  async loginWithCertificate(commonName: string): Promise<LoginResult> {
    await this.#refresh();
    const entry = validateUserName(commonName) === undefined
      ? this.#store.get(commonName)
      : undefined;
    const user = entry && this.#stillValid(entry, entry.hash);
    return user ? { ok: true, user } : INVALID;
  }

  #verify(
    entry: UserEntry | undefined,
    password: string,
  ): Promise<VerifyResult> {
    if (password.length > MAX_PASSWORD_UNITS) {
      return this.#hasher.verifyDummy(password.slice(0, MAX_PASSWORD_UNITS));
    }
    return entry ? this.#hasher.verify(password, entry.hash) : this.#hasher.verifyDummy(password);
  }

  /** Pick up changes by the admin CLI; on a broken file keep the last good
   * state rather than refusing every login. */
  async #refresh(): Promise<void> {
    await Promise.all([
      this.#store.refresh().catch((error) => this.#onError(error)),
      this.#lockout.refresh().catch((error) => this.#onError(error)),
    ]);
  }

  async #recordFailure(
    account: string | undefined,
    username: string,
    ip: string,
  ): Promise<void> {
    try {
      const { newLock, status } = await this.#lockout.recordFailure(
        account,
        ip,
      );
      if (newLock && status.locked) {
        const { scope, retryAfterMs } = status;
        this.#onLockout({
          scope,
          username: escapeUntrusted(username, MAX_LOGGED_NAME),
          ip,
          retryAfterMs,
        });
      }
    } catch (error) {
      this.#onError(new Error("Cannot record failed login", { cause: error }));
    }
    this.#checkWrites();
  }

  /** Whether failures can be saved now; while not, retry the write. */
  async #writable(): Promise<boolean> {
    if (this.#lockout.writeError === undefined) return true;
    await this.#lockout.flush();
    this.#checkWrites();
    return this.#lockout.writeError === undefined;
  }

  /** Report a failed lockout write and pause or resume password logins. */
  #checkWrites(): void {
    const error = this.#lockout.writeError;
    if (error !== undefined) this.#onLockoutWriteError(error);
    if ((error !== undefined) === this.#paused) return;
    this.#paused = error !== undefined;
    this.#onPause(error);
  }

  /** Re-hash with the current parameters; resolves to the account's hash
   * if the login still holds (the old one when nothing was replaced). */
  async #upgrade(entry: UserEntry, password: string): Promise<string> {
    try {
      const hash = await this.#hasher.hash(password);
      return await this.#store.setHash(entry.name, hash, { ifHash: entry.hash })
        ? hash
        : entry.hash;
    } catch (error) {
      this.#onError(
        new Error(`Cannot upgrade password hash of "${entry.name}"`, {
          cause: error,
        }),
      );
      return entry.hash;
    }
  }
}

function logError(error: Error): void {
  getLogger(["banter", "auth"]).error("{message}", {
    message: error.message,
    error,
  });
}

function locked(retryAfterMs: number, scope: LockoutScope): LoginResult {
  return { ok: false, reason: "locked", retryAfterMs, scope };
}

function logPause(error: Error | undefined): void {
  const log = getLogger(["banter", "auth"]);
  if (error === undefined) {
    log.info("Logins resumed: failed attempts can be recorded again");
  } else {
    log.error("{message}: cannot write the lockout file: {error}", {
      message: LOGINS_PAUSED_MESSAGE,
      error: error.message,
    });
  }
}

function logLockout(event: LockoutEvent): void {
  getLogger(["banter", "auth"]).warn(
    "Login failures locked {scope} for {retryAfterMs} ms",
    { ...event },
  );
}
