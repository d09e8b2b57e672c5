/**
 * Accounts for cluster tests, made where cluster-mode servers read them:
 * the `banter_auth` KV bucket, with the test password of each name; and
 * `deno task user` run as an admin runs it.
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
 * @param replicas Copies of the bucket, as the instances will ask (`--cluster-replicas`).
 */
export async function addClusterUsers(
  url: string,
  users: readonly string[],
  admins: readonly string[] = [],
  replicas = 1,
): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const bucket = await openAuthBucket(nc, { replicas });
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

/**
 * `deno task user ARGS` in the repository as an admin runs it (the real
 * task, in its own process), `input` on stdin.
 *
 * @param args The task's arguments, e.g. `["add", "erin", "--cluster", url]`.
 * @param input Standard input (a password line).
 * @returns Its exit code and output.
 */
export async function userTask(
  args: string[],
  input = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "user", ...args],
    cwd: new URL("../..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // Keep the tester's BANTER_* settings out of it.
    env: { BANTER_DATA: "data" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
