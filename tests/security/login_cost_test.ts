/**
 * Attack: tell accounts apart by how long a wrong password takes. Each
 * attempt's work is recorded through the hasher's primitives (every scrypt,
 * bcrypt and SHA-256 call with its cost) and must be the same for an
 * unknown name, a scrypt account, legacy SHA-256 and bcrypt accounts, an
 * account the admin CLI hashed and, after `user.ts upgrade`, the wrapped
 * legacy accounts. No clock is read.
 *
 * @module
 */
import { deepEqual, equal, match } from "node:assert/strict";
import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";
import { type Kdf, nodeKdf } from "../../lib/auth/_kdf.ts";
import { Hasher, type ScryptParams } from "../../lib/auth/hash.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { Authenticator } from "../../lib/auth/login.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { denoRun, fixedRandom, GOOD_PASSWORD } from "../auth/_helpers.ts";
import { tempDir } from "../_helpers.ts";

/** The server's cost in these tests: cheap, and unlike the CLI's old 17. */
const SERVER_PARAMS: ScryptParams = Object.freeze({ logN: 11, r: 8, p: 1 });
/** A cheap bcrypt cost; the work log records it, so cheap is enough. */
const BCRYPT_COST = 5;
const SCRIPT = new URL("../../scripts/user.ts", import.meta.url).pathname;

/** Primitives that log each call and its cost, then do the real work. */
class WorkLog implements Kdf {
  steps: string[] = [];
  scrypt(
    password: string | Uint8Array,
    salt: Uint8Array,
    params: ScryptParams,
    keyLength: number,
  ): Promise<Uint8Array> {
    this.steps.push(`scrypt ln=${params.logN},r=${params.r},p=${params.p}`);
    return nodeKdf.scrypt(password, salt, params, keyLength);
  }
  bcrypt(password: string, setting: string): Promise<string> {
    this.steps.push(`bcrypt ${setting.slice(4, 6)}`);
    return nodeKdf.bcrypt(password, setting);
  }
  sha256(password: string): Uint8Array {
    this.steps.push("sha256");
    return nodeKdf.sha256(password);
  }
}

/** Run scripts/user.ts as the admin would, with the server's cost in the
 * environment, and `input` on stdin. */
async function userCli(args: string[], input = ""): Promise<{ code: number; stderr: string }> {
  const child = denoRun(SCRIPT, args, {
    stdin: "piped",
    env: { BANTER_SCRYPT_LOG_N: String(SERVER_PARAMS.logN) },
  });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stderr } = await child.output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** A credentials file with one account of every kind: scrypt at the
 * server's cost, unsalted SHA-256, bcrypt, and one added by the CLI. */
async function accounts(dir: string) {
  const log = new WorkLog();
  const path = `${dir}/credentials.json`;
  const hasher = new Hasher({ params: SERVER_PARAMS, kdf: log, random: fixedRandom() });
  const store = await CredentialStore.open(path, { hasher, random: fixedRandom() });
  for (const name of ["alice", "sha", "bc"]) await store.add(name, GOOD_PASSWORD);
  const sha = createHash("sha256").update("legacy sha pass", "utf8").digest("hex");
  await store.setHash("sha", sha);
  await store.setHash("bc", bcrypt.hashSync("legacy bcrypt pass", BCRYPT_COST));
  const added = await userCli(["add", "carol", "--credentials", path], "amber window 31\n");
  equal(added.code, 0, added.stderr);
  const lockout = await Lockout.open(`${dir}/lockout.json`);
  const auth = new Authenticator({ store, hasher, lockout, onError: (e) => Promise.reject(e) });
  let address = 0;
  /** The work one login does, sorted; each attempt from a fresh address. */
  const workOf = async (username: string, password: string) => {
    log.steps = [];
    const result = await auth.login({ username, password, ip: `192.0.2.${++address}` });
    return { ok: result.ok, work: log.steps.toSorted() };
  };
  return { path, store, workOf };
}

Deno.test("a wrong password costs the same work for unknown names, scrypt, SHA-256, bcrypt and CLI-made accounts, before and after user.ts upgrade", async () => {
  await using dir = await tempDir();
  const { path, store, workOf } = await accounts(dir.path);
  const names = ["nobody", "alice", "sha", "bc", "carol"];
  const before: string[][] = [];
  for (const name of names) before.push((await workOf(name, "a wrong guess 1")).work);
  for (const [i, work] of before.entries()) {
    deepEqual(work, before[0], `${names[i]}: ${work} vs unknown: ${before[0]}`);
  }
  // The work covers the costliest account: a bcrypt step and the server's scrypt.
  match(before[0]?.join(" ") ?? "", /bcrypt 0?5/);
  match(before[0]?.join(" ") ?? "", /scrypt ln=11,r=8,p=1/);

  const upgraded = await userCli(["upgrade", "--credentials", path]);
  equal(upgraded.code, 0, upgraded.stderr);
  await store.refresh();
  match(store.get("sha")?.hash ?? "", /^\$scrypt-wrapped\$ln=11,r=8,p=1\$/);
  match(store.get("bc")?.hash ?? "", /^\$scrypt-wrapped\$ln=11,r=8,p=1\$/);
  const after: string[][] = [];
  for (const name of names) after.push((await workOf(name, "a wrong guess 2")).work);
  for (const [i, work] of after.entries()) {
    deepEqual(work, after[0], `after upgrade ${names[i]}: ${work} vs unknown: ${after[0]}`);
  }
  // Wrapped hashes still take their old passwords.
  equal((await workOf("sha", "legacy sha pass")).ok, true);
  equal((await workOf("bc", "legacy bcrypt pass")).ok, true);
});

Deno.test("each account's first login re-hashes it at the server's cost, after which every attempt is one scrypt", async () => {
  await using dir = await tempDir();
  const { store, workOf } = await accounts(dir.path);
  const passwords: Record<string, string> = {
    alice: GOOD_PASSWORD,
    sha: "legacy sha pass",
    bc: "legacy bcrypt pass",
    carol: "amber window 31",
  };
  for (const [name, password] of Object.entries(passwords)) {
    equal((await workOf(name, password)).ok, true, name);
  }
  for (const name of Object.keys(passwords)) {
    match(store.get(name)?.hash ?? "", /^\$scrypt\$ln=11,r=8,p=1\$/, name);
  }
  // admin (made at first open) was hashed by the server too.
  for (const name of ["nobody", ...Object.keys(passwords)]) {
    deepEqual((await workOf(name, "a wrong guess 3")).work, ["scrypt ln=11,r=8,p=1"], name);
  }
});
