/**
 * The accounts of a cluster-mode instance: the same {@linkcode Accounts}
 * (store and authenticator) and {@linkcode SessionTokens} as the embedded
 * server's, on the entries of the NATS KV bucket `banter_auth` instead of
 * credentials.json, data/lockout.json and data/tokens.json. Every instance
 * reads and writes the same entries with compare-and-set, so a lockout
 * counts the failures made on every instance, an account added with
 * `deno task user add --cluster` logs in everywhere, and a token issued by
 * one instance is accepted by another.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { SessionTokens, tokenBinding } from "../auth/session_tokens.ts";
import type { CredentialStore } from "../auth/store.ts";
import {
  AUTH_KEYS,
  type AuthBucket,
  type AuthBucketOptions,
  openAuthBucket,
} from "../cluster/kv_json_document.ts";
import { type Accounts, type AccountsOptions, openAccounts } from "./accounts.ts";
import type { ServerConfig } from "./settings.ts";

/**
 * Lockout records kept per table in cluster mode: the three tables of the
 * worst case (32-character names, IPv6 groups) stay under 1 MiB, NATS's
 * default `max_payload` (about 375 bytes per record of each table).
 */
export const CLUSTER_LOCKOUT_ENTRIES = 2_000;

/** Options for {@linkcode openClusterAccounts}. */
export interface ClusterAccountsOptions extends Omit<AccountsOptions, "documents"> {
  /** Copies of the bucket and conflict counting. */
  bucket?: AuthBucketOptions;
  /** The `--cluster` value, for the admin command shown with a new admin's password. */
  cluster: string;
}

/** What {@linkcode openClusterAccounts} opened. */
export interface ClusterAccounts extends Accounts, AsyncDisposable {
  /** Web (and resume) session tokens, shared by every instance. */
  tokens: SessionTokens;
  /** The bucket (for the migration and the tests). */
  bucket: AuthBucket;
  /** Stop following the bucket (the connection stays open). */
  close(): Promise<void>;
}

/**
 * Open the cluster's accounts, lockouts and session tokens. On an empty
 * cluster the `admin` account is created and its password announced once,
 * as on a first embedded start.
 *
 * @param nc The cluster connection.
 * @param config The scrypt cost and the login queue bounds.
 * @param options As {@linkcode openAccounts}'s, plus the bucket's replicas and the `--cluster` value.
 * @returns Store, authenticator, tokens and the bucket.
 * @throws {Error} When the bucket cannot be opened or an entry holds an
 * invalid value; the message names the entry.
 */
export async function openClusterAccounts(
  nc: NatsConnection,
  config: Pick<
    ServerConfig,
    "credentials" | "data" | "scryptLogN" | "loginQueue" | "loginQueuePerAddress"
  >,
  options: ClusterAccountsOptions,
): Promise<ClusterAccounts> {
  const bucket = await openAuthBucket(nc, options.bucket ?? {});
  try {
    const { store, auth } = await openAccounts(config, {
      ...options,
      documents: {
        credentials: bucket.opener(AUTH_KEYS.credentials, "accounts"),
        lockouts: bucket.opener(AUTH_KEYS.lockouts, "lockouts"),
        passwdCommand: `deno task user passwd admin --cluster ${shellWord(options.cluster)}`,
        lockoutEntries: CLUSTER_LOCKOUT_ENTRIES,
      },
    });
    const tokens = await SessionTokens.openDocument(
      bucket.opener(AUTH_KEYS.tokens, "session tokens"),
      { clock: options.clock, random: options.random, bindingOf: bindingIn(store) },
    );
    return {
      store,
      auth,
      tokens,
      bucket,
      close: () => bucket.close(),
      [Symbol.asyncDispose]: () => bucket.close(),
    };
  } catch (error) {
    await bucket.close();
    throw error;
  }
}

/** The token binding of the account with id `id`, as the store has it now. */
function bindingIn(store: CredentialStore): (id: string) => string | undefined {
  return (id) => {
    for (const { name } of store.list()) {
      const entry = store.get(name);
      if (entry?.id === id) return tokenBinding(entry);
    }
    return undefined;
  };
}

/** `text` as one POSIX shell word. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:,=@%+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
