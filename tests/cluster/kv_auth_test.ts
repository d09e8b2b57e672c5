/**
 * Accounts, lockouts and session tokens on a real nats-server: each
 * "instance" is its own NATS connection with its own stores, as two Banter
 * instances (or an instance and the admin CLI) would have them.
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CredentialStore } from "../../lib/auth/store.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { SessionTokens } from "../../lib/auth/session_tokens.ts";
import {
  AUTH_BUCKET,
  AUTH_KEYS,
  type AuthBucket,
  KvJsonDocument,
  openAuthBucket,
} from "../../lib/cluster/kv_json_document.ts";
import { KvRevisions } from "../../lib/cluster/_kv_revisions.ts";
import type { KV, KvPutOptions } from "@nats-io/kv";
import { jetstream } from "@nats-io/jetstream";
import { type ClusterAccounts, openClusterAccounts } from "../../lib/server/cluster_accounts.ts";
import { Counter } from "../../lib/server/prometheus.ts";
import { main as userCli } from "../../scripts/user.ts";
import { FakeClock } from "../_fake_clock.ts";
import { startNats } from "../_nats.ts";
import { GOOD_PASSWORD, testHasher } from "../auth/_helpers.ts";
import { systemRandom } from "../../lib/util/clock.ts";

const IP = "192.0.2.7";
const CONFIG = {
  credentials: "unused/credentials.json",
  data: "unused",
  scryptLogN: 10,
  loginQueue: 100,
  loginQueuePerAddress: 10,
};

/** One connection and its auth bucket: what one instance holds. */
async function bucketOn(url: string): Promise<
  { nc: NatsConnection; bucket: AuthBucket } & AsyncDisposable
> {
  const nc = await connect({ servers: url });
  const held = {
    nc,
    bucket: undefined as unknown as AuthBucket,
    async [Symbol.asyncDispose]() {
      await held.bucket?.close();
      await nc.close();
    },
  };
  held.bucket = await openAuthBucket(nc);
  return held;
}

/** One Banter instance's accounts on the cluster. */
async function instanceOn(
  url: string,
  clock: FakeClock,
  announced: string[] = [],
): Promise<ClusterAccounts & { nc: NatsConnection }> {
  const nc = await connect({ servers: url });
  const accounts = await openClusterAccounts(nc, CONFIG, {
    cluster: url,
    clock,
    random: systemRandom,
    announce: (line) => announced.push(line),
    lockouts: { account: new Counter(), ip: new Counter() },
  });
  return {
    ...accounts,
    nc,
    async close() {
      await accounts.close();
      await nc.close();
    },
    async [Symbol.asyncDispose]() {
      await accounts.close();
      await nc.close();
    },
  };
}

Deno.test("two stores on one NATS add accounts at the same time and every one is kept", async () => {
  await using nats = await startNats();
  await using one = await bucketOn(nats.url);
  await using two = await bucketOn(nats.url);
  const hasher = testHasher();
  // Both start on an empty cluster: one creates the admin, the other takes it.
  const [a, b] = await Promise.all([
    CredentialStore.openDocument(one.bucket.opener(AUTH_KEYS.credentials, "accounts"), { hasher }),
    CredentialStore.openDocument(two.bucket.opener(AUTH_KEYS.credentials, "accounts"), { hasher }),
  ]);
  equal(a.get("admin")?.id, b.get("admin")?.id, "one admin account, made once");
  ok((a.createdAdminPassword === undefined) !== (b.createdAdminPassword === undefined));
  const names = (prefix: string) => Array.from({ length: 6 }, (_, i) => `${prefix}${i}`);
  await Promise.all([
    ...names("ann").map((name) => a.add(name, GOOD_PASSWORD)),
    ...names("bob").map((name) => b.add(name, GOOD_PASSWORD)),
  ]);
  await using three = await bucketOn(nats.url);
  const fresh = await CredentialStore.openDocument(
    three.bucket.opener(AUTH_KEYS.credentials, "accounts"),
    { hasher, createIfMissing: false },
  );
  deepEqual(
    fresh.list().map((user) => user.name),
    ["admin", ...names("ann"), ...names("bob")],
  );
  for (const store of [a, b]) {
    await store.refresh();
    equal(store.list().length, 13, "each store sees the other's accounts");
  }
});

Deno.test("three failed logins spread over two instances lock the account on both", async () => {
  await using nats = await startNats();
  const clock = new FakeClock();
  const announced: string[] = [];
  await using first = await instanceOn(nats.url, clock, announced);
  await using second = await instanceOn(nats.url, clock);
  match(announced[0] ?? "", /^Created NATS KV banter_auth\/credentials with user "admin"/);
  match(announced[0] ?? "", /deno task user passwd admin --cluster nats:\/\/127\.0\.0\.1:\d+\)$/);
  await first.store.add("carol", GOOD_PASSWORD);
  const wrong = { username: "carol", password: "not her password", ip: IP };
  equal((await first.auth.login(wrong)).ok, false);
  equal((await second.auth.login(wrong)).ok, false);
  const third = await first.auth.login(wrong);
  equal(third.ok === false && third.reason, "invalid");
  const right = { username: "carol", password: GOOD_PASSWORD, ip: IP };
  for (const instance of [first, second]) {
    const result = await instance.auth.login(right);
    equal(result.ok === false && result.reason, "locked", "locked on every instance");
    equal(result.ok === false && result.reason === "locked" && result.retryAfterMs, 60_000);
  }
  // Another address is not locked out of the account (only slowed down: its
  // check waits for the account's next slot, in fake time).
  const elsewhere = await clock.runUntilSettled(
    second.auth.login({ ...right, ip: "198.51.100.1" }),
  );
  equal(elsewhere.ok, true);

  // The admin CLI lifts the lock in the cluster; both instances see it.
  const status = await userCli(["unlock", "carol", "--cluster", nats.url], { clock });
  equal(status, 0);
  for (const instance of [first, second]) {
    equal((await instance.auth.login(right)).ok, true, "unlocked on every instance");
  }
});

Deno.test("a session token issued on one instance is accepted on another, and revoked everywhere", async () => {
  await using nats = await startNats();
  const clock = new FakeClock();
  await using first = await instanceOn(nats.url, clock);
  await using second = await instanceOn(nats.url, clock);
  await first.store.add("dave", GOOD_PASSWORD);
  await second.store.refresh();
  const id = first.store.get("dave")!.id;
  const token = await first.tokens.issue(id);
  equal(await second.tokens.check(token), id);
  const other = await second.tokens.issue(id);
  equal(await first.tokens.check(other), id, "and the other way round");
  await second.tokens.revoke(token);
  equal(await first.tokens.check(token), undefined);
  await first.tokens.revokeAccount(id);
  equal(await second.tokens.check(other), undefined);
});

Deno.test("a value over NATS max_payload fails clearly and changes nothing", async () => {
  await using nats = await startNats();
  const clock = new FakeClock();
  await using instance = await instanceOn(nats.url, clock);
  await instance.store.add("erin", GOOD_PASSWORD);
  const id = instance.store.get("erin")!.id;
  await instance.tokens.issue(id);
  // Fill the tokens entry (other accounts' tokens) to just under the limit.
  const kv = instance.bucket.kv;
  const current = JSON.parse(new TextDecoder().decode((await kv.get(AUTH_KEYS.tokens))!.value));
  const entry = (i: number) =>
    [
      i.toString(16).padStart(64, "0"),
      {
        account: `acct${String(i).padStart(8, "0")}`,
        binding: "b".repeat(64),
        issued: clock.now(),
        used: clock.now(),
      },
    ] as const;
  const tokens = { ...current.tokens };
  const limit = (instance.nc.info?.max_payload ?? 1024 * 1024) - 1024;
  let length = JSON.stringify({ version: 2, tokens }).length;
  // Stop within one token of the limit: the one issued next is over it.
  for (let i = 0;; i++) {
    const [key, value] = entry(i);
    const size = JSON.stringify(key).length + JSON.stringify(value).length + 2;
    if (length + size > limit - 20) break;
    tokens[key] = value;
    length += size;
  }
  const revision = await kv.put(
    AUTH_KEYS.tokens,
    new TextEncoder().encode(JSON.stringify({ version: 2, tokens }) + "\n"),
  );
  await rejects(instance.tokens.issue(id), (error: Error) => {
    equal(error.name, "RangeError");
    match(
      error.message,
      /^Cannot save session tokens to NATS KV banter_auth\/tokens: the value would be \d+ bytes, over the limit of \d+ \(NATS max_payload\)$/,
    );
    return true;
  });
  equal((await kv.get(AUTH_KEYS.tokens))?.revision, revision, "nothing was written");
});

Deno.test("a garbage stored value is a clear error naming the entry, and a running store keeps its accounts", async () => {
  await using nats = await startNats();
  await using held = await bucketOn(nats.url);
  const hasher = testHasher();
  const store = await CredentialStore.openDocument(
    held.bucket.opener(AUTH_KEYS.credentials, "accounts"),
    { hasher },
  );
  const kv = held.bucket.kv;
  await kv.put(AUTH_KEYS.credentials, new TextEncoder().encode("{not json"));
  await rejects(store.refresh(), (error: Error) => {
    equal(error.name, "CredentialsError");
    equal(
      error.message,
      `Cannot load credentials from NATS KV ${AUTH_BUCKET}/credentials: not valid JSON`,
    );
    return true;
  });
  ok(store.get("admin"), "the last good accounts stay in use");
  await rejects(
    CredentialStore.openDocument(held.bucket.opener(AUTH_KEYS.credentials, "accounts"), {
      hasher,
    }),
    /^CredentialsError: Cannot load credentials from NATS KV banter_auth\/credentials: not valid JSON/,
  );
  await kv.put(AUTH_KEYS.lockouts, new TextEncoder().encode('{"version":9}'));
  await rejects(
    Lockout.openDocument(held.bucket.opener(AUTH_KEYS.lockouts, "lockouts")),
    (error: Error) => {
      equal(error.name, "SyntaxError");
      match(error.message, /^Cannot load lockout state from NATS KV banter_auth\/lockouts: /);
      return true;
    },
  );
  await kv.put(AUTH_KEYS.tokens, new Uint8Array([0xff, 0xfe, 0x7b]));
  await rejects(
    SessionTokens.openDocument(held.bucket.opener(AUTH_KEYS.tokens, "session tokens")),
    /^SyntaxError: Cannot read session tokens: NATS KV banter_auth\/tokens is not JSON/,
  );
});

Deno.test("a lost compare-and-set is counted and the change applied again to the newer value", async () => {
  await using nats = await startNats();
  await using held = await bucketOn(nats.url);
  const kv = held.bucket.kv;
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  await kv.put("test", encode({ names: ["first"] }));
  // Another writer gets in between this document's read and its write, once.
  let interrupted = false;
  const racing: KV = Object.create(kv, {
    put: {
      value: async (key: string, data: Uint8Array, options?: Partial<KvPutOptions>) => {
        if (!interrupted) {
          interrupted = true;
          await kv.put(key, encode({ names: ["first", "other"] }));
        }
        return await kv.put(key, data, options);
      },
    },
  });
  let conflicts = 0;
  const seen: string[][] = [];
  const revisions = await KvRevisions.open(kv, jetstream(held.nc));
  const document = new KvJsonDocument<{ names: string[] }>(racing, "test", {
    parse: (value) => value as { names: string[] },
    serialise: (value) => JSON.stringify(value),
    invalid: (problem) => new SyntaxError(problem),
  }, { what: "names", bucket: AUTH_BUCKET, revisions, onConflict: () => conflicts++ });
  const result = await document.update((current) => {
    seen.push([...current?.names ?? []]);
    return { value: { names: [...current?.names ?? [], "mine"] }, result: "done" };
  });
  equal(result, "done");
  deepEqual(seen, [["first"], ["first", "other"]], "applied again to the newer value");
  equal(conflicts, 1);
  deepEqual(JSON.parse(new TextDecoder().decode((await kv.get("test"))!.value)), {
    names: ["first", "other", "mine"],
  });
  equal(await document.changed(), false, "its own write is no change");
  await kv.put("test", encode({ names: [] }));
  equal(await document.changed(), true, "another's is");
  await revisions.close();
});
