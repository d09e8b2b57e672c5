/**
 * Accounts for cluster tests, made where cluster-mode servers read them:
 * the `banter_auth` KV bucket, with the test password of each name.
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { Hasher } from "../../lib/auth/hash.ts";
import { CredentialStore, type UserRole } from "../../lib/auth/store.ts";
import { AUTH_KEYS, openAuthBucket } from "../../lib/cluster/kv_json_document.ts";
import { passwordOf, TEST_SCRYPT_LOG_N } from "../_server.ts";

/**
 * Add users (and admins) to the cluster at `url`, each with {@linkcode passwordOf} its name.
 *
 * @param url A NATS server of the cluster.
 * @param users Role `user`.
 * @param admins Role `admin`.
 */
export async function addClusterUsers(
  url: string,
  users: readonly string[],
  admins: readonly string[] = [],
): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const bucket = await openAuthBucket(nc);
    try {
      const hasher = new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } });
      const store = await CredentialStore.openDocument(
        bucket.opener(AUTH_KEYS.credentials, "accounts"),
        { hasher },
      );
      const all: [string, UserRole][] = [
        ...users.map((name): [string, UserRole] => [name, "user"]),
        ...admins.map((name): [string, UserRole] => [name, "admin"]),
      ];
      for (const [name, role] of all) {
        if (store.get(name) === undefined) await store.add(name, passwordOf(name), role);
      }
    } finally {
      await bucket.close();
    }
  } finally {
    await nc.close();
  }
}
