/**
 * The server's accounts: the credential store (created with a first admin
 * when missing), the persistent lockouts and the authenticator over both,
 * with lockouts audited, counted and mailed.
 *
 * @module
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Authenticator, type LockoutEvent } from "../auth/login.ts";
import { Hasher } from "../auth/hash.ts";
import { Lockout } from "../auth/lockout.ts";
import { CredentialStore } from "../auth/store.ts";
import type { Clock, Random } from "../util/clock.ts";
import type { Counter } from "./prometheus.ts";
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
  /** Told of every lockout (alert mails), when configured. */
  alerts?: { notify(event: LockoutEvent): void } | undefined;
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
 * must exist) and build the authenticator.
 *
 * @param config Paths and the scrypt cost.
 * @param options Clock, randomness, announcements, counters, alerts.
 * @returns The store and the authenticator.
 * @throws {Error} When the credentials or lockouts cannot be loaded; the
 * message names the file.
 */
export async function openAccounts(
  config: Pick<ServerConfig, "credentials" | "data" | "scryptLogN">,
  options: AccountsOptions,
): Promise<Accounts> {
  const { clock, random, announce, lockouts, alerts } = options;
  const hasher = new Hasher({
    params: { logN: config.scryptLogN, r: 8, p: 1 },
  });
  const store = await CredentialStore.open(config.credentials, {
    onExternalChange: (changes) => {
      for (const { user, change } of changes) {
        audit.info("Account {user}: {change} by the admin CLI", { user, change });
      }
    },
    hasher,
    random,
    clock,
  });
  if (store.createdAdminPassword !== undefined) {
    announce(
      `Created ${config.credentials} with user "admin", password: ${store.createdAdminPassword} (shown once; change it with: deno task user passwd admin)`,
    );
  }
  const lockout = await Lockout.open(join(config.data, LOCKOUT_FILE), {
    clock,
  });
  const auth = new Authenticator({
    store,
    hasher,
    lockout,
    onError: (error: Error) =>
      log.error("Account storage problem: {error}", { error: error.message }),
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
