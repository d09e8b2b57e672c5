/**
 * The server's accounts: the credential store (created with a first admin
 * when missing), the persistent lockouts and the authenticator over both,
 * with lockouts audited, counted and mailed.
 *
 * @module
 */
import { join, normalize } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Authenticator, type LockoutEvent, LOGINS_PAUSED_MESSAGE } from "../auth/login.ts";
import { Hasher, scryptParamsFor } from "../auth/hash.ts";
import { Lockout } from "../auth/lockout.ts";
import { type AccountChange, CredentialStore, type CredentialStoreOptions } from "../auth/store.ts";
import type { JsonDocumentOpener } from "../auth/json_document.ts";
import type { Clock, Random } from "../util/clock.ts";
import type { Counter, Gauge } from "./prometheus.ts";
import { LOCKOUT_FILE } from "./data_files.ts";
import type { ServerConfig } from "./settings.ts";

const log = getLogger(["banter", "server"]);
const audit = getLogger(["banter", "audit"]);

/** What {@linkcode openAccounts} is wired to. */
export interface AccountsOptions {
  clock: Clock;
  random: Random;
  /** Where the first-start admin password is shown (once). */
  announce: (line: string) => void;
  /** Lockouts started, per scope. */
  lockouts: Readonly<Record<LockoutEvent["scope"], Counter>>;
  /** Failed writes of the lockout file. */
  lockoutWriteErrors?: Counter;
  /** 1 while password logins are paused (lockouts cannot be saved). */
  loginsPaused?: Gauge;
  /** Told of every lockout (alert mails), when configured. */
  alerts?: { notify(event: LockoutEvent): void } | undefined;
  /** Told of every account change, the admin CLI's and the server's own,
   * so live sessions follow it. */
  onAccountChange?: (changes: AccountChange[]) => void;
  /** Where the accounts and lockouts live instead of the files (cluster
   * mode: NATS KV entries). @default {config.credentials and <data>/lockout.json} */
  documents?: AccountDocuments | undefined;
}

/** The accounts and lockouts in documents other than the files. */
export interface AccountDocuments {
  /** Opens the accounts (the text of a credentials.json). */
  readonly credentials: JsonDocumentOpener;
  /** Opens the lockouts (the text of a lockout.json). */
  readonly lockouts: JsonDocumentOpener;
  /** The admin CLI command that changes the first admin's password there. */
  readonly passwdCommand: string;
  /** Lockout records kept per table, so the value stays within its size
   * bound. @default {MAX_LOCKOUT_ENTRIES} */
  readonly lockoutEntries?: number | undefined;
}

/** The opened accounts. */
export interface Accounts {
  /** Users and roles. */
  store: CredentialStore;
  /** Checks logins against the store and the lockouts. */
  auth: Authenticator;
}

/**
 * Open `config.credentials` and `<data>/lockout.json` (the data directory
 * must exist), or the `documents` given instead, and build the authenticator.
 *
 * @param config Paths, the scrypt cost and the login queue bounds.
 * @param options Clock, randomness, announcements, counters, alerts.
 * @returns The store and the authenticator.
 * @throws {Error} When the credentials or lockouts cannot be loaded; the
 * message names the file.
 */
export async function openAccounts(
  config: Pick<
    ServerConfig,
    "credentials" | "data" | "scryptLogN" | "loginQueue" | "loginQueuePerAddress"
  >,
  options: AccountsOptions,
): Promise<Accounts> {
  const {
    clock,
    random,
    announce,
    lockouts,
    alerts,
    onAccountChange,
    lockoutWriteErrors,
    loginsPaused,
  } = options;
  const hasher = new Hasher({ params: scryptParamsFor(config.scryptLogN) });
  const documents = options.documents;
  const storeOptions: CredentialStoreOptions = {
    onExternalChange: (changes) => {
      for (const { user, change } of changes) {
        // A wrapped legacy hash is the same password: nothing to act on.
        const what = change === "rehash" ? "hash upgraded" : change;
        audit.info("Account {user}: {change} by the admin CLI", { user, change: what });
      }
    },
    ...(onAccountChange ? { onChange: onAccountChange } : {}),
    hasher,
    random,
    clock,
  };
  const store = documents === undefined
    ? await CredentialStore.open(config.credentials, storeOptions)
    : await CredentialStore.openDocument(documents.credentials, storeOptions);
  if (hasher.stepsPerAttempt.length > 1) {
    log.warn(
      "Every login attempt pays {work} to cost what the costliest stored hash does; the extra steps go as those users log in (deno task user upgrade wraps legacy hashes)",
      { work: hasher.stepsPerAttempt.join(" + ") },
    );
  }
  if (store.createdAdminPassword !== undefined) {
    announce(
      `Created ${store.path} with user "admin", password: ${store.createdAdminPassword} (shown once; change it with: ${
        documents?.passwdCommand ?? passwdCommand(config.credentials)
      })`,
    );
  }
  const lockout = documents === undefined
    ? await Lockout.open(join(config.data, LOCKOUT_FILE), { clock })
    : await Lockout.openDocument(documents.lockouts, {
      clock,
      ...(documents.lockoutEntries ? { maxEntries: documents.lockoutEntries } : {}),
    });
  const auth = new Authenticator({
    store,
    hasher,
    lockout,
    clock,
    maxQueued: config.loginQueue,
    maxQueuedPerAddress: config.loginQueuePerAddress,
    onError: (error: Error) =>
      log.error("Account storage problem: {error}", { error: error.message }),
    onLockoutWriteError: () => lockoutWriteErrors?.inc(),
    onPause: (error) => {
      loginsPaused?.set(error === undefined ? 0 : 1);
      if (error === undefined) log.info("Logins resumed: failed attempts can be recorded again");
      else {
        log.error("{message}: cannot write {lockouts}: {error}", {
          message: LOGINS_PAUSED_MESSAGE,
          lockouts: documents === undefined ? "the lockout file" : lockout.path,
          error: error.message,
        });
      }
    },
    onLockout: (event: LockoutEvent) => {
      lockouts[event.scope].inc();
      audit.warn(
        "Locked {scope} after failed logins: {user} from {address} for {retryAfterMs} ms",
        {
          scope: event.scope,
          user: event.username,
          address: event.ip,
          retryAfterMs: event.retryAfterMs,
        },
      );
      alerts?.notify(event);
    },
  });
  return { store, auth };
}

/**
 * The admin CLI command that changes the first admin's password in the
 * credentials file the server uses: `--credentials PATH` unless it is the
 * CLI's default too (`data/credentials.json`).
 *
 * @param credentials The server's credentials file.
 * @returns The command, with the path quoted for a POSIX shell when needed.
 *
 * @example
 * ```ts
 * import { passwdCommand } from "./accounts.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(passwdCommand("data/credentials.json"), "deno task user passwd admin");
 * equal(passwdCommand("/srv/my accounts.json"), "deno task user passwd admin --credentials '/srv/my accounts.json'");
 * ```
 */
export function passwdCommand(credentials: string): string {
  const command = "deno task user passwd admin";
  if (normalize(credentials) === join("data", "credentials.json")) return command;
  const quoted = /^[A-Za-z0-9_./:=@%+-]+$/.test(credentials)
    ? credentials
    : `'${credentials.replaceAll("'", `'\\''`)}'`;
  return `${command} --credentials ${quoted}`;
}
