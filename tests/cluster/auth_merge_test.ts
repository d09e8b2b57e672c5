/**
 * Merging a single-node install's accounts and lockout records into the
 * cluster's `banter_auth` texts: what is there stays, clashes are refused,
 * the later lock stands, and the texts are files the real stores read.
 */
import { deepEqual, equal, throws } from "node:assert/strict";
import { join } from "node:path";
import { CredentialStore } from "../../lib/auth/store.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { systemClock } from "../../lib/util/clock.ts";
import {
  type AccountRecord,
  mergeAccounts,
  mergeLockouts,
  parseLockouts,
  serialiseAccounts,
} from "../../lib/cluster/auth_merge.ts";
import { tempDir } from "../_helpers.ts";

const alice: AccountRecord = {
  name: "alice",
  id: "AliceAccountId00000001",
  role: "user",
  hash: "$scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA",
};
const bob: AccountRecord = { ...alice, name: "bob", id: "BobAccountId0000000001", role: "admin" };

Deno.test("mergeAccounts() adds new accounts, knows its own, refuses a name or id held by another", () => {
  const cluster = serialiseAccounts([
    { ...alice, name: "Alice", id: "OtherAliceId0000000001" },
    { ...bob, hash: "$scrypt$newer" },
  ]);
  const carol = { ...alice, name: "carol", id: "CarolAccountId00000001" };
  const dave = { ...alice, name: "dave", id: bob.id };
  const merge = mergeAccounts(cluster, [alice, bob, carol, dave]);
  deepEqual(merge.migrated, ["carol"]);
  deepEqual(merge.already, ["bob"]);
  deepEqual(merge.refused.map((r) => r.name), ["alice", "dave"]);
  const next = JSON.parse(merge.text!);
  deepEqual(Object.keys(next.users), ["Alice", "bob", "carol"]);
  equal(next.users.bob.hash, "$scrypt$newer", "the cluster's newer hash stands");
  equal(mergeAccounts(merge.text, [alice, bob, carol]).text, undefined, "nothing to change");
});

Deno.test("mergeAccounts() refuses a cluster entry that is not a credentials file", () => {
  throws(() => mergeAccounts('{"version":2,"users":{"bad name!":{}}}', [alice]), SyntaxError);
  throws(() => mergeAccounts("[]", [alice]), /not a version 2 credentials file/);
});

Deno.test("the merged credentials text is a file CredentialStore reads, ids and hashes as given", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "credentials.json");
  await Deno.writeTextFile(path, mergeAccounts(undefined, [bob, alice]).text!);
  const store = await CredentialStore.open(path, { createIfMissing: false });
  deepEqual(store.get("alice"), alice);
  deepEqual(store.get("bob"), bob);
});

Deno.test("mergeLockouts() keeps the later lock of a record, adds the others", async () => {
  const counter = (lockedUntil: number, lastFailure: number) => ({
    failures: 0,
    level: 1,
    lockedUntil,
    lastFailure,
  });
  const text = (pairs: Record<string, unknown>, ips: Record<string, unknown> = {}) =>
    JSON.stringify({ version: 2, pairs, accounts: {}, ips });
  const cluster = text({ "alice 192.0.2.1": counter(5_000, 4_000) }, {
    "192.0.2.9": counter(9_000, 8_000),
  });
  const source = parseLockouts(
    text({ "alice 192.0.2.1": counter(7_000, 6_000), "bob 192.0.2.2": counter(3_000, 2_000) }, {
      "192.0.2.9": counter(1_000, 500),
    }),
    "source",
  );
  const merge = mergeLockouts(cluster, source);
  equal(merge.migrated, 2);
  equal(merge.already, 1);
  const next = parseLockouts(merge.text!, "next");
  equal(next.pairs.get("alice 192.0.2.1")?.lockedUntil, 7_000);
  equal(next.ips.get("192.0.2.9")?.lockedUntil, 9_000, "the cluster's later lock stands");
  equal(mergeLockouts(merge.text, source).text, undefined, "a second merge changes nothing");

  await using dir = await tempDir();
  const path = join(dir.path, "lockout.json");
  await Deno.writeTextFile(path, merge.text!);
  const lockout = await Lockout.open(path, { clock: { ...systemClock, now: () => 2_500 } });
  equal(lockout.status("bob", "192.0.2.2").locked, true);
  equal(lockout.status("alice", "192.0.2.1").locked, true);
});

Deno.test("parseLockouts() refuses what is not a version 2 lockout file", () => {
  throws(() => parseLockouts("{", "x"), /Cannot read x: it is not JSON/);
  throws(() => parseLockouts('{"version":1,"accounts":{},"ips":{}}', "x"), /not a version 2/);
  throws(
    () => parseLockouts('{"version":2,"pairs":{"a":{"failures":-1}},"accounts":{},"ips":{}}', "x"),
    /"pairs" entry "a" is not a counter/,
  );
});
