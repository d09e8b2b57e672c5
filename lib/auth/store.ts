/**
 * The user accounts file, `credentials.json`, shared by the server and the
 * admin CLI. Every change takes a lock file beside it, re-reads the file,
 * applies the change and replaces the file atomically (mode 0600), so two
 * writers never lose each other's changes and a crash never leaves a torn
 * file. Within one process, refreshes and changes run one at a time, and a
 * change reaches the cache and the change reports only once it is written.
 *
 * The format is specified in docs/CREDENTIALS.md (keep the two in step;
 * tests/auth/credentials_doc_test.ts loads that page's example). In short,
 * it is versioned:
 *
 * ```json
 * {
 *   "version": 2,
 *   "users": {
 *     "alice": { "id": "Vq3...22 chars", "role": "admin", "hash": "$scrypt$ln=17,r=8,p=1$...$..." }
 *   }
 * }
 * ```
 *
 * `id` is the account's stable random id (version 2): what chat history
 * keys DMs by, so an account created later under a removed one's name
 * inherits nothing. Version 1 files (no ids) and the original design's
 * plain map `{"alice": "<sha256 hex>"}` (every user gets role `user`,
 * except a user named `admin`) are read too, and rewritten as version 2 at
 * once, under the lock, so every process sees the same ids.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { dirname } from "node:path";
import { type Clock, type Random, systemRandom } from "../util/clock.ts";
import { isRecord } from "../util/is_record.ts";
import { LockedJsonFile } from "./_locked_json_file.ts";
import type { JsonDocument, JsonDocumentOpener, JsonFormat } from "./json_document.ts";
import {
  CredentialsError,
  DuplicateUserError,
  UnknownUserError,
  WeakPasswordError,
} from "./errors.ts";
import { Hasher } from "./hash.ts";
import { isWrapOf } from "./_stored_hash.ts";
import { checkNewPassword } from "./password_policy.ts";
import { isReservedUserName, userNameSkeleton, validateUserName } from "./user_name.ts";

/** What a user may do in chat. */
export type UserRole = "user" | "admin";
/** Every role, for validating input. */
export const USER_ROLES: readonly UserRole[] = ["user", "admin"];
/** The version written; versions 1 (no account ids) and 2 are read. */
export const CREDENTIALS_VERSION = 2;
/** Random bytes in an account id (22 base64url characters). */
export const ACCOUNT_ID_BYTES = 16;
/** An account id as the file holds it. */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** The user created when the file does not exist. */
export const INITIAL_ADMIN = "admin";
/** Random bytes in the initial admin password (20 base64url characters). */
export const INITIAL_PASSWORD_BYTES = 15;

/** One account as stored. */
export interface UserEntry {
  /** The user name. */
  readonly name: string;
  /** The account's stable random id; a re-created name gets a new one. */
  readonly id: string;
  /** What the user may do. */
  readonly role: UserRole;
  /** The password hash, in any format `Hasher.verify` accepts. */
  readonly hash: string;
}

/** An account that was added, removed or changed (never hashes). */
export interface AccountChange {
  readonly user: string;
  /** The account's id ({@linkcode UserEntry.id}). */
  readonly id: string;
  /** `rehash`: the same password re-encoded (a legacy hash wrapped in
   * scrypt by `user.ts upgrade`); `password`: any other new hash. */
  readonly change: "added" | "removed" | "password" | "rehash" | "role";
  /** The account's role after the change (before it, when removed). */
  readonly role: UserRole;
}

function accountChanges(before: Users, after: Users): AccountChange[] {
  const changes: AccountChange[] = [];
  for (const [user, entry] of after) {
    const old = before.get(user);
    const { id, role } = entry;
    if (old === undefined || old.id !== entry.id) changes.push({ user, id, change: "added", role });
    else {
      if (old.hash !== entry.hash) {
        const change = isWrapOf(old.hash, entry.hash) ? "rehash" : "password";
        changes.push({ user, id, change, role });
      }
      if (old.role !== entry.role) changes.push({ user, id, change: "role", role });
    }
  }
  for (const [user, old] of before) {
    if (after.get(user)?.id !== old.id) {
      changes.push({ user, id: old.id, change: "removed", role: old.role });
    }
  }
  return changes;
}

/** Options for {@linkcode CredentialStore.open}. */
export interface CredentialStoreOptions {
  /**
   * Told what {@linkcode CredentialStore.refresh} found changed on disk by
   * another process (never hashes or passwords).
   */
  onExternalChange?: (changes: AccountChange[]) => void;
  /**
   * Told of every account change this store sees, its own ones and those
   * {@linkcode CredentialStore.refresh} finds on disk, so live sessions can
   * follow them. A hash upgrade after a login is not a change.
   */
  onChange?: (changes: AccountChange[]) => void;
  /** Hashes new passwords. @default {new Hasher()} */
  hasher?: Hasher;
  /** Source of the initial admin password. @default {systemRandom} */
  random?: Random;
  /** Source of account ids (kept apart from `random`, which tests fix).
   * @default {systemRandom} */
  ids?: Random;
  /** Time source for lock ages. @default {systemClock} */
  clock?: Clock;
  /** Create the file with an `admin` user when it does not exist; when
   * false a missing file is a {@linkcode CredentialsError}. @default {true} */
  createIfMissing?: boolean;
  /** How long a change waits for another writer's lock. @default {10000} */
  lockTimeoutMs?: number;
  /** Replaces the file's content (a seam for a full disk in tests).
   * @default {writeFileAtomic} */
  writeFile?: (path: string, text: string) => Promise<void>;
}

/** Options for {@linkcode CredentialStore.setRole} and
 * {@linkcode CredentialStore.remove}. */
export interface KeepAdminOptions {
  /** Refuse to demote or remove the last account with role admin (when
   * there is none already, nothing is refused). Checked under the file's
   * lock, so two admins demoted at once cannot both go. @default {false} */
  keepAnAdmin?: boolean;
}

/** Options for {@linkcode CredentialStore.setHash}. */
export interface SetHashOptions {
  /** Only replace the hash if it is still this one (compare-and-set), so
   * an upgrade after login cannot undo a password change made meanwhile. */
  ifHash?: string;
}

type Stored = { id: string; role: UserRole; hash: string };
type Users = Map<string, Stored>;

/**
 * The accounts in `credentials.json`.
 *
 * @example Open (creating an admin) and add a user
 * ```ts
 * import { CredentialStore } from "./store.ts";
 * import { Hasher } from "./hash.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const hasher = new Hasher({ params: { logN: 10, r: 8, p: 1 } });
 * const store = await CredentialStore.open(`${dir}/credentials.json`, {
 *   hasher,
 * });
 * equal(store.createdAdminPassword?.length, 20);
 * await store.add("alice", "quiet lantern 42");
 * equal(store.get("alice")?.role, "user");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CredentialStore {
  #path: string;
  #file: JsonDocument<Users>;
  /** A file on disk (its directory is checked before it is created). */
  #onDisk: boolean;
  #hasher: Hasher;
  #random: Random;
  #ids: Random;
  #users: Users = new Map();
  #onExternalChange: ((changes: AccountChange[]) => void) | undefined;
  #onChange: ((changes: AccountChange[]) => void) | undefined;
  /** Refreshes and changes run one at a time, in order, so a change is
   * reported once and an older read never replaces a newer cache. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A refresh queued and not started yet, which later callers join. */
  #pendingRefresh: Promise<boolean> | undefined;
  /** The last parse gave ids to entries that had none: write them. */
  #minted = false;
  #createdAdminPassword: string | undefined;

  private constructor(
    source: string | JsonDocumentOpener,
    options: CredentialStoreOptions,
  ) {
    const format: JsonFormat<Users> = {
      parse: (value) => {
        this.#minted = false;
        return parseUsers(value, (name, hash) => {
          this.#minted = true;
          // Re-reading the same id-less entry (to write it) keeps its id.
          const known = this.#users.get(name);
          return known?.hash === hash ? known.id : this.#newId();
        });
      },
      serialise: serialiseCredentials,
      invalid: (problem, errorOptions) => new CredentialsError(this.#path, problem, errorOptions),
      unreadable: (error) => new CredentialsError(this.#path, error.message, { cause: error }),
    };
    this.#file = typeof source === "string"
      ? new LockedJsonFile(source, format, {
        lockTimeoutMs: options.lockTimeoutMs,
        clock: options.clock,
        writeFile: options.writeFile,
      })
      : source(format);
    this.#path = this.#file.description;
    this.#onDisk = typeof source === "string";
    this.#onExternalChange = options.onExternalChange;
    this.#onChange = options.onChange;
    this.#hasher = options.hasher ?? new Hasher();
    this.#random = options.random ?? systemRandom;
    this.#ids = options.ids ?? systemRandom;
  }

  /**
   * Load the credentials file, creating it with user `admin` (role admin,
   * random password in {@linkcode createdAdminPassword}) when it is missing.
   *
   * @param path The credentials file.
   * @param options Hasher, randomness and creation policy.
   * @returns The loaded store.
   * @throws {CredentialsError} When the file cannot be read, is not valid
   * JSON, has the wrong shape or no users.
   */
  static async open(
    path: string,
    options: CredentialStoreOptions = {},
  ): Promise<CredentialStore> {
    return await CredentialStore.#open(path, options);
  }

  /**
   * Load the accounts from a document other than a file (a NATS KV entry
   * in cluster mode), creating it with user `admin` as {@linkcode open}
   * does when it holds nothing.
   *
   * @param open Opens the document with the store's format.
   * @param options Change reports, hasher, randomness, whether to create.
   * @returns The loaded store.
   * @throws {CredentialsError} When the stored value is invalid, or it is
   * missing and `createIfMissing` is false; the message names the document.
   */
  static async openDocument(
    open: JsonDocumentOpener,
    options: CredentialStoreOptions = {},
  ): Promise<CredentialStore> {
    return await CredentialStore.#open(open, options);
  }

  static async #open(
    source: string | JsonDocumentOpener,
    options: CredentialStoreOptions,
  ): Promise<CredentialStore> {
    const store = new CredentialStore(source, options);
    if (await store.#load()) return store;
    if (options.createIfMissing === false) {
      throw store.#missing();
    }
    await store.#create();
    return store;
  }

  /** Where this store reads and writes: the file, or the document's description. */
  get path(): string {
    return this.#path;
  }

  /** The initial admin password when {@linkcode open} created the file,
   * for showing once; otherwise `undefined`. */
  get createdAdminPassword(): string | undefined {
    return this.#createdAdminPassword;
  }

  /**
   * Look up a user, exactly by name.
   *
   * @param name The user name.
   * @returns The account, or `undefined` when there is none.
   */
  get(name: string): UserEntry | undefined {
    const entry = this.#users.get(name);
    return entry && { name, ...entry };
  }

  /**
   * Look up a user ignoring case (names are ASCII). New names are unique
   * ignoring case, but a file written before that rule may hold several.
   *
   * @param name The user name, in any case.
   * @returns Every account whose name matches, sorted by name.
   */
  find(name: string): UserEntry[] {
    const lower = name.toLowerCase();
    return [...this.#users].filter(([existing]) => existing.toLowerCase() === lower)
      .sort(byName).map(([existing, entry]) => ({ name: existing, ...entry }));
  }

  /**
   * Every user, sorted by name, without hashes.
   *
   * @returns Names and roles.
   */
  list(): { name: string; role: UserRole }[] {
    return [...this.#users].sort(byName)
      .map(([name, { role }]) => ({ name, role }));
  }

  /**
   * Add a user.
   *
   * @param name The new user's name.
   * @param password Their password (checked against the password policy,
   * `password_policy.ts`).
   * @param role Their role. @default {"user"}
   * @throws {TypeError} When the name or the role is not valid.
   * @throws {WeakPasswordError} When the password breaks a rule.
   * @throws {DuplicateUserError} When the name exists, ignoring case, or
   * looks like an existing one.
   */
  async add(
    name: string,
    password: string,
    role: UserRole = "user",
  ): Promise<void> {
    this.checkNewUser(name);
    if (!USER_ROLES.includes(role)) {
      throw new TypeError(`Cannot add user "${name}": unknown role "${role}"`);
    }
    await this.#checkPassword(name, password);
    const hash = await this.#hasher.hash(password);
    await this.#change((users) => {
      this.#checkNew(name, users);
      users.set(name, { id: this.#newId(), role, hash });
      return true;
    });
  }

  /**
   * Check that `name` could be added, before asking for a password.
   *
   * @param name The proposed user name.
   * @throws {TypeError} When the name is not valid, or is or looks like a
   * reserved name (`RESERVED_USER_NAMES`).
   * @throws {DuplicateUserError} When the name exists, ignoring case, or
   * looks like an existing one (`userNameSkeleton`).
   */
  checkNewUser(name: string): void {
    const problem = validateUserName(name);
    if (problem) throw new TypeError(`Cannot add user: ${problem}`);
    if (isReservedUserName(name)) {
      throw new TypeError(`Cannot add user "${name}": the name is reserved`);
    }
    this.#checkNew(name);
  }

  /**
   * Set a user's role.
   *
   * @param name The user.
   * @param role The new role.
   * @param options Whether the last admin may be demoted.
   * @returns Whether the role changed.
   * @throws {TypeError} When the role is not valid.
   * @throws {UnknownUserError} When there is no such user.
   * @throws {RangeError} With `keepAnAdmin`, when it would leave no admin.
   */
  async setRole(
    name: string,
    role: UserRole,
    options: KeepAdminOptions = {},
  ): Promise<boolean> {
    if (!USER_ROLES.includes(role)) {
      throw new TypeError(`Cannot set role of "${name}": unknown role "${role}"`);
    }
    return await this.#change((users) => {
      const entry = this.#existing(name, "set role of", users);
      if (entry.role === role) return false;
      if (options.keepAnAdmin) refuseLastAdmin(users, entry, `make "${name}" a ${role}`);
      users.set(name, { ...entry, role });
      return true;
    });
  }

  /**
   * Set a user's password.
   *
   * @param name The user.
   * @param password The new password (checked against the password
   * policy, `password_policy.ts`).
   * @throws {WeakPasswordError} When the password breaks a rule.
   * @throws {UnknownUserError} When there is no such user.
   */
  async setPassword(name: string, password: string): Promise<void> {
    this.#existing(name, "set password for");
    await this.#checkPassword(name, password);
    const hash = await this.#hasher.hash(password);
    await this.#change((users) => {
      const entry = this.#existing(name, "set password for", users);
      users.set(name, { ...entry, hash });
      return true;
    });
  }

  /**
   * Replace a user's stored hash as is (to upgrade it after a login).
   *
   * @param name The user.
   * @param hash The new hash.
   * @param options Compare-and-set condition.
   * @returns Whether the hash was replaced (`false` when `ifHash` no longer
   * matched).
   * @throws {UnknownUserError} When there is no such user.
   */
  async setHash(
    name: string,
    hash: string,
    options: SetHashOptions = {},
  ): Promise<boolean> {
    return await this.#change((users) => {
      const entry = this.#existing(name, "set hash for", users);
      if (options.ifHash !== undefined && entry.hash !== options.ifHash) {
        return false;
      }
      users.set(name, { ...entry, hash });
      return true;
    }, { report: false });
  }

  /**
   * Remove a user.
   *
   * @param name The user.
   * @throws {UnknownUserError} When there is no such user.
   * @param options Whether the last admin may go.
   * @throws {RangeError} When it is the only user (an empty file would not
   * load), or with `keepAnAdmin` the last admin.
   */
  async remove(name: string, options: KeepAdminOptions = {}): Promise<void> {
    await this.#change((users) => {
      const entry = this.#existing(name, "remove user", users);
      if (options.keepAnAdmin) refuseLastAdmin(users, entry, `remove user "${name}"`);
      if (users.size === 1) {
        throw new RangeError(
          `Cannot remove user "${name}": it is the only user`,
        );
      }
      users.delete(name);
      return true;
    });
  }

  /**
   * Reload the file if another process changed it (one `stat` when not).
   *
   * @returns Whether the file was reloaded.
   * @throws {CredentialsError} When the changed file cannot be loaded; the
   * previous accounts stay in use.
   */
  refresh(): Promise<boolean> {
    // A refresh already running may have looked before the latest change:
    // join only one that has not started.
    this.#pendingRefresh ??= this.#serially(() => {
      this.#pendingRefresh = undefined;
      return this.#refresh();
    });
    return this.#pendingRefresh;
  }

  /** Run `task` after every refresh and change queued before it. */
  #serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #refresh(): Promise<boolean> {
    if (!await this.#file.changed()) return false;
    const before = this.#users;
    if (!await this.#load()) {
      throw this.#missing();
    }
    this.#report(accountChanges(before, this.#users), []);
    return true;
  }

  /**
   * Read the file into the cache; `false` when it does not exist. Entries
   * without an id (an older file) get one, written at once.
   */
  async #load(): Promise<boolean> {
    const users = await this.#file.read();
    if (!users) return false;
    this.#use(users);
    if (this.#minted) await this.#apply(() => this.#minted, { report: false });
    return true;
  }

  /** {@linkcode #apply} in the store's queue. */
  #change(
    change: (users: Users) => boolean,
    options: { report?: boolean } = {},
  ): Promise<boolean> {
    return this.#serially(() => this.#apply(change, options));
  }

  /**
   * Lock, re-read, apply `change`, write if it returns true, unlock. What
   * changed on disk meanwhile is taken and reported whatever happens; the
   * change itself is taken and (unless `report` is false) reported only
   * once it is written.
   */
  async #apply(
    change: (users: Users) => boolean,
    options: { report?: boolean },
  ): Promise<boolean> {
    let onDisk: Users | undefined;
    let next: Users | undefined;
    let own: AccountChange[] = [];
    let external: AccountChange[] = [];
    try {
      const changed = await this.#file.update((users) => {
        if (!users) throw this.#missing();
        external = accountChanges(this.#users, users);
        onDisk = new Map(users);
        const changed = change(users) || this.#minted;
        if (changed && options.report !== false) own = accountChanges(onDisk, users);
        next = users;
        return { value: changed ? users : undefined, result: changed };
      });
      if (next !== undefined) this.#use(next);
      return changed;
    } catch (error) {
      if (onDisk !== undefined) this.#use(onDisk);
      own = [];
      throw error;
    } finally {
      this.#report(external, own);
    }
  }

  #report(external: AccountChange[], own: AccountChange[]): void {
    if (external.length > 0) this.#onExternalChange?.(external);
    if (external.length + own.length > 0) this.#onChange?.([...external, ...own]);
  }

  /** The error for a file (or document) that holds no accounts at all. */
  #missing(): CredentialsError {
    return new CredentialsError(this.#path, this.#onDisk ? "file not found" : "no accounts stored");
  }

  #newId(): string {
    return Buffer.from(this.#ids.bytes(ACCOUNT_ID_BYTES)).toString("base64url");
  }

  /** Take `users` as the accounts; the hasher makes every login attempt
   * cost what the costliest of their hashes does. */
  #use(users: Users): void {
    this.#users = users;
    this.#hasher.equalise([...users.values()].map((entry) => entry.hash));
  }

  async #create(): Promise<void> {
    const password = Buffer.from(this.#random.bytes(INITIAL_PASSWORD_BYTES))
      .toString("base64url");
    const dir = dirname(this.#path);
    if (this.#onDisk && !await Deno.stat(dir).then((info) => info.isDirectory, () => false)) {
      throw new CredentialsError(this.#path, `no directory ${dir}`);
    }
    const hash = await this.#hasher.hash(password);
    const created = await this.#file.update((existing) => {
      // Another process may have created it while we were hashing.
      this.#use(
        existing ?? new Map([[INITIAL_ADMIN, { id: this.#newId(), role: "admin", hash }]]),
      );
      return { value: existing ? undefined : this.#users, result: !existing };
    });
    if (created) this.#createdAdminPassword = password;
  }

  async #checkPassword(name: string, password: string): Promise<void> {
    const rule = await checkNewPassword(password, name);
    if (rule) throw new WeakPasswordError(name, rule);
  }

  #checkNew(name: string, users: Users = this.#users): void {
    const lower = name.toLowerCase();
    const skeleton = userNameSkeleton(name);
    for (const existing of users.keys()) {
      if (existing.toLowerCase() === lower || userNameSkeleton(existing) === skeleton) {
        throw new DuplicateUserError(name, existing);
      }
    }
  }

  #existing(
    name: string,
    action: string,
    users: Users = this.#users,
  ): Stored {
    const entry = users.get(name);
    if (!entry) throw new UnknownUserError(name, action);
    return entry;
  }
}

/** Validate a parsed file into users, or describe what is wrong (never
 * quoting a hash). Entries without an id get one from `mint`. */
function parseUsers(
  value: unknown,
  mint: (name: string, hash: string) => string,
): Users | string {
  if (!isRecord(value)) return "expected a JSON object";
  const legacy = !("version" in value || isRecord(value.users));
  if (!legacy) {
    if (value.version !== 1 && value.version !== CREDENTIALS_VERSION) {
      return `unsupported version ${quote(String(value.version))}`;
    }
    const extra = Object.keys(value).find((k) => !["version", "users"].includes(k));
    if (extra !== undefined) return `unexpected key ${quote(extra)}`;
    if (!isRecord(value.users)) return `"users" must be an object`;
  }
  const entries = Object.entries(legacy ? value : value.users as object);
  if (entries.length === 0) return "no users";
  const users: Users = new Map();
  const ids = new Set<string>();
  for (const [name, entry] of entries) {
    const nameProblem = validateUserName(name);
    if (nameProblem) return `user ${quote(name)}: ${nameProblem}`;
    const parsed = legacy ? parseLegacyEntry(name, entry) : parseEntry(entry);
    if (typeof parsed === "string") return `user ${quote(name)}: ${parsed}`;
    const id = parsed.id ?? mint(name, parsed.hash);
    if (ids.has(id)) return `user ${quote(name)}: id is not unique`;
    ids.add(id);
    users.set(name, { id, role: parsed.role, hash: parsed.hash });
  }
  return users;
}

function parseEntry(
  entry: unknown,
): { id?: string; role: UserRole; hash: string } | string {
  if (!isRecord(entry)) return "expected an object with role and hash";
  const extra = Object.keys(entry).find((k) => !["id", "role", "hash"].includes(k));
  if (extra !== undefined) return `unexpected key ${quote(extra)}`;
  if (
    entry.id !== undefined && (typeof entry.id !== "string" || !ACCOUNT_ID_PATTERN.test(entry.id))
  ) {
    return "id must be 16 to 64 characters of A-Z a-z 0-9 _ -";
  }
  if (typeof entry.hash !== "string" || entry.hash === "") {
    return "hash must be a non-empty string";
  }
  if (!USER_ROLES.includes(entry.role as UserRole)) {
    return `role must be one of ${USER_ROLES.join(", ")}`;
  }
  const role = entry.role as UserRole;
  return typeof entry.id === "string"
    ? { id: entry.id, role, hash: entry.hash }
    : { role, hash: entry.hash };
}

function parseLegacyEntry(
  name: string,
  hash: unknown,
): { id?: string; role: UserRole; hash: string } | string {
  if (typeof hash !== "string" || hash === "") {
    return "hash must be a non-empty string";
  }
  return { role: name === INITIAL_ADMIN ? "admin" : "user", hash };
}

/**
 * A credentials file's text, as it is written: version
 * {@linkcode CREDENTIALS_VERSION}, names sorted, two-space indent.
 *
 * @param users The accounts, by name.
 * @returns The text.
 */
export function serialiseCredentials(
  users: ReadonlyMap<
    string,
    { readonly id: string; readonly role: UserRole; readonly hash: string }
  >,
): string {
  const file = {
    version: CREDENTIALS_VERSION,
    users: Object.fromEntries(
      [...users].sort(byName).map(([name, { id, role, hash }]) => [
        name,
        { id, role, hash },
      ]),
    ),
  };
  return JSON.stringify(file, null, 2) + "\n";
}

function byName([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A name from an untrusted file, quoted and shortened for a message. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/** Refuse a change that takes away `entry`, the last admin in `users`. */
function refuseLastAdmin(users: Users, entry: Stored, action: string): void {
  if (entry.role !== "admin") return;
  const admins = [...users.values()].filter((user) => user.role === "admin").length;
  if (admins <= 1) {
    throw new RangeError(
      `Cannot ${action}: it is the last admin (make another user admin first)`,
    );
  }
}
