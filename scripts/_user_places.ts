/**
 * Where the admin CLI finds the accounts: the files of an embedded server
 * (credentials.json, DATA/lockout.json, DATA/activity.json) or, with
 * `--cluster`, the entries of the cluster's NATS KV bucket `banter_auth`
 * and who is online from its presence bucket `banter_presence`. Every
 * command runs on either the same way.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { Lockout } from "../lib/auth/lockout.ts";
import { CredentialStore, type CredentialStoreOptions } from "../lib/auth/store.ts";
import type { ClusterServer } from "../lib/cluster/cluster_urls.ts";
import { AUTH_BUCKET, AUTH_KEYS, openAuthBucket } from "../lib/cluster/kv_json_document.ts";
import { connectCluster } from "../lib/cluster/link.ts";
import { PRESENCE_BUCKET, PRESENCE_TTL_MS } from "../lib/cluster/presence.ts";
import { LOCKOUT_FILE } from "../lib/server/data_files.ts";
import { ACTIVITY_FILE, type ActivitySnapshot, readActivity } from "../lib/server/activity.ts";
import { CLUSTER_LOCKOUT_ENTRIES } from "../lib/server/cluster_accounts.ts";
import { refuseLegacyCredentials } from "../lib/server/legacy_credentials.ts";
import type { Clock } from "../lib/util/clock.ts";
import { isRecord } from "../lib/util/is_record.ts";

/** Who is online, as `deno task user list` shows it. */
export type OnlineSource =
  | { readonly kind: "activity"; readonly activity: ActivitySnapshot | undefined }
  | {
    readonly kind: "cluster";
    /** Instances each account id is logged in on (fresh presence entries only). */
    readonly instances: ReadonlyMap<string, number>;
  };

/** The accounts, lockouts and presence the CLI works on. */
export interface AccountPlace extends AsyncDisposable {
  /** Where the accounts are, for messages. */
  readonly where: string;
  /**
   * Open the accounts.
   *
   * @param options The store's options; `createIfMissing` makes the first `admin`.
   */
  openStore(options: CredentialStoreOptions): Promise<CredentialStore>;
  /** Open the lockouts. */
  openLockout(clock: Clock): Promise<Lockout>;
  /** Who is online now. */
  online(now: number): Promise<OnlineSource>;
  /** Close what was opened (the NATS connection). */
  close(): Promise<void>;
}

/**
 * The files of an embedded server.
 *
 * @param credentials The credentials file.
 * @param data The data directory.
 * @returns The place; a legacy ./credentials.json beside it is refused first.
 * @throws {Error} When a legacy credentials file would be shadowed.
 */
export async function filePlace(credentials: string, data: string): Promise<AccountPlace> {
  await refuseLegacyCredentials({ credentials, data });
  const place: AccountPlace = {
    where: credentials,
    async openStore(options) {
      // The first account may come before the server ever ran: make its
      // directory (data/ on a fresh checkout) as the server would, 0700.
      if (options.createIfMissing !== false) {
        await Deno.mkdir(dirname(credentials), { recursive: true, mode: 0o700 });
      }
      return await CredentialStore.open(credentials, options);
    },
    openLockout: (clock) => Lockout.open(join(data, LOCKOUT_FILE), { clock }),
    online: async () => ({
      kind: "activity",
      activity: await readActivity(join(data, ACTIVITY_FILE)),
    }),
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return place;
}

/** The cluster settings of the CLI. */
export interface ClusterPlaceOptions {
  /** The NATS servers (`--cluster`). */
  servers: readonly ClusterServer[];
  /** `--cluster-creds`. */
  credsFile?: string | undefined;
  /** `--cluster-ca`. */
  caFile?: string | undefined;
  /** Copies of the bucket when this command creates it. */
  replicas: number;
}

/**
 * The cluster's entries.
 *
 * @param options Servers, credentials, CA, replicas.
 * @returns The place, connected.
 * @throws {ClusterUnreachableError} When NATS cannot be reached (one line).
 */
export async function clusterPlace(options: ClusterPlaceOptions): Promise<AccountPlace> {
  const link = await connectCluster({
    servers: options.servers,
    credsFile: options.credsFile,
    caFile: options.caFile,
    name: "banter-user-cli",
  });
  const nc = link.connection;
  try {
    const bucket = await openAuthBucket(nc, { replicas: options.replicas });
    const close = async () => {
      await bucket.close();
      await link.close();
    };
    return {
      where: `NATS KV ${AUTH_BUCKET}/${AUTH_KEYS.credentials}`,
      openStore: (storeOptions) =>
        CredentialStore.openDocument(
          bucket.opener(AUTH_KEYS.credentials, "accounts"),
          storeOptions,
        ),
      openLockout: (clock) =>
        Lockout.openDocument(bucket.opener(AUTH_KEYS.lockouts, "lockouts"), {
          clock,
          maxEntries: CLUSTER_LOCKOUT_ENTRIES,
        }),
      online: async (now) => ({ kind: "cluster", instances: await presentAccounts(nc, now) }),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await link.close();
    throw error;
  }
}

/**
 * Per account id, the instances it is logged in on: from each instance's
 * entry in `banter_presence`, counted only when the entry was written less
 * than `PRESENCE_TTL_MS` ago (an instance rewrites it every 10 s; a killed
 * one's entry goes stale). Ages are judged by the NATS server's timestamp
 * of each entry against this machine's clock.
 */
async function presentAccounts(
  nc: Parameters<typeof openAuthBucket>[0],
  now: number,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const kv = await new Kvm(nc).open(PRESENCE_BUCKET);
  try {
    await kv.status();
  } catch (error) {
    // No instance has run yet: no bucket, nobody online.
    if (error instanceof Error && error.message === "stream not found") return counts;
    throw error;
  }
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== "PUT") continue;
    if (now - entry.created.getTime() >= PRESENCE_TTL_MS) continue;
    let value: unknown;
    try {
      value = entry.json();
    } catch (error) {
      if (error instanceof SyntaxError) continue; // not an instance's entry: nobody to count
      throw error;
    }
    const users = isRecord(value) && Array.isArray(value.users) ? value.users : [];
    const seen = new Set<string>();
    for (const user of users) {
      if (!isRecord(user) || typeof user.account !== "string" || seen.has(user.account)) continue;
      seen.add(user.account);
      counts.set(user.account, (counts.get(user.account) ?? 0) + 1);
    }
  }
  return counts;
}
