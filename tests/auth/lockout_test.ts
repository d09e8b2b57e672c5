import { FakeClock } from "../_fake_clock.ts";
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import {
  ACCOUNT_LOCKOUT,
  ACCOUNT_SLOWDOWN,
  IP_LOCKOUT,
  Lockout,
  LOCKOUT_FORGET_MS,
} from "../../lib/auth/lockout.ts";
import { tempDir } from "./_helpers.ts";

const MINUTE = 60_000;
const IP = "192.0.2.7";

async function fail(lockout: Lockout, account: string, times: number, ip = IP) {
  let last;
  for (let i = 0; i < times; i++) last = await lockout.recordFailure(account, ip);
  return last;
}

Deno.test("Lockout ships the documented policy", () => {
  deepEqual(ACCOUNT_LOCKOUT, {
    threshold: 3,
    durationsMs: [MINUTE, 5 * MINUTE, 15 * MINUTE],
  });
  deepEqual(IP_LOCKOUT, {
    threshold: 10,
    durationsMs: [MINUTE, 5 * MINUTE, 15 * MINUTE],
  });
});

Deno.test("Lockout locks an account from one address for 1, 5, then 15 minutes per 3 failures", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  // A lax address rule so only the account rule applies.
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, {
    clock,
    ip: { threshold: 100, durationsMs: [MINUTE] },
  });
  for (const minutes of [1, 5, 15, 15]) {
    deepEqual(await lockout.recordFailure("alice", IP), {
      newLock: false,
      status: { locked: false },
    });
    await lockout.recordFailure("alice", IP);
    deepEqual(await lockout.recordFailure("alice", IP), {
      newLock: true,
      status: { locked: true, retryAfterMs: minutes * MINUTE, scope: "account" },
    });
    // Only from that address.
    deepEqual(lockout.status("alice", "198.51.100.1"), { locked: false });
    clock.advance(minutes * MINUTE - 1);
    deepEqual(lockout.status("alice", IP), {
      locked: true,
      retryAfterMs: 1,
      scope: "account",
    });
    clock.advance(1);
    deepEqual(lockout.status("alice", IP), { locked: false });
  }
  deepEqual(lockout.status("bob", IP), { locked: false });
});

Deno.test("Lockout slows an account failing from many addresses down: 1, 2, 4, then 8 s", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  deepEqual(ACCOUNT_SLOWDOWN, { threshold: 3, firstDelayMs: 1_000, maxDelayMs: 8_000 });
  // An address that logged in to alice before the failures.
  await lockout.recordSuccess("alice", "192.0.2.100");
  let n = 0;
  await lockout.recordFailure("alice", `198.51.100.${n++}`);
  await lockout.recordFailure("alice", `198.51.100.${n++}`);
  equal(lockout.delayMs("alice", "192.0.2.222"), 0);
  const delays = [];
  for (let i = 0; i < 6; i++) {
    await lockout.recordFailure("alice", `198.51.100.${n++}`);
    delays.push(lockout.delayMs("alice", "192.0.2.222"));
  }
  deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  clock.advance(3_000);
  equal(lockout.delayMs("alice", "192.0.2.222"), 5_000);
  equal(lockout.delayMs("bob", "192.0.2.222"), 0);
  // An address counting failures of its own waits like any other (it used
  // to skip the slow-down: two free guesses per slot and address).
  equal(lockout.delayMs("alice", "198.51.100.3"), 5_000);
  // One that logged in to the account skips it.
  equal(lockout.delayMs("alice", "192.0.2.100"), 0);
  // Never a lock for the account as a whole.
  deepEqual(lockout.status("alice", "192.0.2.200"), { locked: false });
  await lockout.recordSuccess("alice", "192.0.2.200");
  equal(lockout.delayMs("alice", "192.0.2.222"), 0);
});

Deno.test("Lockout.reserve() spreads a slowed account's checks one per delay and bounds those waiting", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock, maxSlowedWaiting: 3 });
  equal(lockout.reserve("alice", "198.51.100.1"), 0);
  for (let i = 0; i < 3; i++) await lockout.recordFailure("alice", `198.51.100.${i}`);
  // Each reservation takes the next slot, 1 s apart; a fourth would wait.
  deepEqual([1, 2, 3].map((i) => lockout.reserve("alice", `203.0.113.${i}`)), [
    1_000,
    2_000,
    3_000,
  ]);
  equal(lockout.reserve("alice", "203.0.113.4"), undefined);
  equal(lockout.delayMs("alice", "203.0.113.4"), 4_000);
  // Other accounts have their own schedules.
  equal(lockout.reserve("bob", "203.0.113.4"), 0);
  clock.advance(1_000);
  equal(lockout.reserve("alice", "203.0.113.4"), 3_000);
  // A success ends the slow-down and its schedule.
  await lockout.recordSuccess("alice", "192.0.2.1");
  equal(lockout.reserve("alice", "203.0.113.5"), 0);
});

Deno.test("Lockout reads a version 1 file: address locks kept, account counts become slow-downs", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const now = clock.now();
  const counter = (failures: number, level: number, lockedUntil: number) => ({
    failures,
    level,
    lockedUntil,
    lastFailure: now,
  });
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      version: 1,
      accounts: { alice: counter(0, 1, now + MINUTE) },
      ips: { [IP]: counter(0, 1, now + MINUTE) },
    }),
  );
  const lockout = await Lockout.open(path, { clock });
  deepEqual(lockout.status(undefined, IP), { locked: true, retryAfterMs: MINUTE, scope: "ip" });
  deepEqual(lockout.status("alice", "198.51.100.1"), { locked: false });
  equal(lockout.delayMs("alice", "192.0.2.222"), 1_000);
  // The next write is version 2.
  await lockout.recordFailure("bob", "198.51.100.1");
  equal(JSON.parse(await Deno.readTextFile(path)).version, 2);
});

Deno.test("Lockout does not count failures while locked", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await fail(lockout, "alice", 3);
  deepEqual(await lockout.recordFailure("alice", IP), {
    newLock: false,
    status: { locked: true, retryAfterMs: MINUTE, scope: "account" },
  });
  clock.advance(MINUTE);
  // Still on the first step: two more failures do not lock yet.
  await fail(lockout, "alice", 2);
  deepEqual(lockout.status("alice", IP), { locked: false });
});

Deno.test("Lockout locks a source address after 10 failures across accounts", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  for (let i = 0; i < 9; i++) await lockout.recordFailure(`user${i}`, IP);
  deepEqual(lockout.status("someone", IP), { locked: false });
  const tenth = await lockout.recordFailure(undefined, IP);
  deepEqual(tenth, {
    newLock: true,
    status: { locked: true, retryAfterMs: MINUTE, scope: "ip" },
  });
  deepEqual(lockout.status("someone", IP), {
    locked: true,
    retryAfterMs: MINUTE,
    scope: "ip",
  });
  deepEqual(lockout.status("someone", "192.0.2.8"), { locked: false });
});

Deno.test("Lockout counts IPv6 sources per /64 and IPv4-mapped as IPv4", async () => {
  await using dir = await tempDir();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, {
    clock: new FakeClock(),
  });
  for (let i = 0; i < 10; i++) {
    await lockout.recordFailure(`user${i}`, `2001:db8:1:2::${i.toString(16)}`);
  }
  equal(lockout.status(undefined, "2001:db8:1:2:ffff::9").locked, true);
  equal(lockout.status(undefined, "2001:db8:1:3::1").locked, false);
});

Deno.test("Lockout reports the longer lock when account and address are both locked", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, {
    clock,
    ip: { threshold: 3, durationsMs: [10 * MINUTE] },
  });
  await fail(lockout, "alice", 3);
  deepEqual(lockout.status("alice", IP), {
    locked: true,
    retryAfterMs: 10 * MINUTE,
    scope: "ip",
  });
});

Deno.test("Lockout.recordSuccess() resets the account from that address but not the address", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await fail(lockout, "alice", 3);
  clock.advance(MINUTE);
  await fail(lockout, "alice", 2);
  await lockout.recordSuccess("alice", IP);
  // Back to the first step of the ladder.
  const again = await fail(lockout, "alice", 3);
  deepEqual(again?.status, { locked: true, retryAfterMs: MINUTE, scope: "account" });
  // 8 failures from IP so far: two more lock it, success or not.
  clock.advance(MINUTE);
  await lockout.recordSuccess("alice", IP);
  await fail(lockout, "bob", 1);
  equal((await fail(lockout, "carol", 1))?.status.locked, true);
});

Deno.test("Lockout.unlock() lifts an account's locks from every address and its slow-down", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await fail(lockout, "alice", 3);
  await fail(lockout, "alice", 3, "198.51.100.1");
  equal(await lockout.unlock("alice"), true);
  deepEqual(lockout.status("alice", IP), { locked: false });
  deepEqual(lockout.status("alice", "198.51.100.1"), { locked: false });
  equal(lockout.delayMs("alice", "192.0.2.222"), 0);
  equal(await lockout.unlock("alice"), false);
});

Deno.test("Lockout survives a restart: a new instance sees the same locks", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const before = await Lockout.open(path, { clock });
  await fail(before, "alice", 3);
  clock.advance(MINUTE);
  await fail(before, "alice", 2);
  const stat = await Deno.stat(path);
  equal((stat.mode ?? 0) & 0o777, 0o600);

  const after = await Lockout.open(path, { clock });
  deepEqual(after.status("alice", IP), { locked: false });
  // The ladder and the count carried over: one more failure, 5 minutes.
  deepEqual((await after.recordFailure("alice", IP)).status, {
    locked: true,
    retryAfterMs: 5 * MINUTE,
    scope: "account",
  });
});

Deno.test("Lockout.refresh() picks up an unlock made by another process", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const server = await Lockout.open(path, { clock });
  await fail(server, "alice", 3);
  const cli = await Lockout.open(path, { clock });
  await cli.unlock("alice");
  equal(server.status("alice", IP).locked, true);
  equal(await server.refresh(), true);
  equal(server.status("alice", IP).locked, false);
  equal(await server.refresh(), false);
  // And the server's next write keeps the unlock.
  await server.recordFailure("bob", IP);
  equal((await Lockout.open(path, { clock })).status("alice", IP).locked, false);
});

Deno.test("Lockout forgets records 24 hours after the last failure", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const lockout = await Lockout.open(path, { clock });
  await fail(lockout, "alice", 3);
  clock.advance(LOCKOUT_FORGET_MS);
  await lockout.recordFailure("bob", "203.0.113.9");
  const file = JSON.parse(await Deno.readTextFile(path));
  deepEqual(Object.keys(file.accounts), ["bob"]);
  deepEqual(Object.keys(file.ips), ["203.0.113.9"]);
  // The ladder starts over at one minute.
  deepEqual((await fail(lockout, "alice", 3))?.status, {
    locked: true,
    retryAfterMs: MINUTE,
    scope: "account",
  });
});

Deno.test("Lockout keeps at most maxEntries records per scope, dropping the least recent", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const lockout = await Lockout.open(path, { clock, maxEntries: 5 });
  for (let i = 0; i < 12; i++) {
    clock.advance(1);
    await lockout.recordFailure(`user${i}`, `203.0.113.${i}`);
  }
  const file = JSON.parse(await Deno.readTextFile(path));
  deepEqual(Object.keys(file.accounts), [7, 8, 9, 10, 11].map((i) => `user${i}`));
  equal(Object.keys(file.ips).length, 5);
});

Deno.test("Lockout refuses a corrupt file, naming it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/lockout.json`;
  for (
    const text of [
      "{oops",
      "[]",
      `{"version":2,"accounts":{},"ips":{}}`,
      `{"version":1,"accounts":[],"ips":{}}`,
      `{"version":1,"accounts":{"a":{"failures":-1,"level":0,"lockedUntil":0,"lastFailure":0}},"ips":{}}`,
      `{"version":1,"accounts":{"a":{"failures":1}},"ips":{}}`,
    ]
  ) {
    await Deno.writeTextFile(path, text);
    await rejects(Lockout.open(path), (error: Error) => {
      equal(error instanceof SyntaxError, true, text);
      equal(error.message.startsWith(`Cannot load lockout state from ${path}: `), true);
      return true;
    });
  }
});

Deno.test("Lockout creates its data directory on the first write", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/data/nested/lockout.json`;
  const lockout = await Lockout.open(path, { clock: new FakeClock() });
  equal(await lockout.unlock("alice"), false);
  await rejects(Deno.stat(`${dir.path}/data`), Deno.errors.NotFound);
  await lockout.recordFailure("alice", IP);
  equal((await Deno.stat(path)).isFile, true);
});

Deno.test("Lockout gives up writing after lockTimeoutMs of its clock when another writer holds the lock", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const lockout = await Lockout.open(path, { clock, lockTimeoutMs: 20 });
  // A live owner keeps the lock file flocked.
  await Deno.writeTextFile(`${path}.lock`, JSON.stringify({ pid: 1, created: clock.now() }));
  using owner = await Deno.open(`${path}.lock`, { read: true });
  equal(await owner.tryLock(true), true);
  const start = clock.now();
  // The failure still counts, in memory, and the reason it is unsaved is kept.
  await clock.runUntilSettled(lockout.recordFailure("alice", IP));
  const error = lockout.writeError;
  equal(error instanceof Deno.errors.TimedOut, true);
  match(error?.message ?? "", /^Cannot lock .*lockout\.json\.lock: held by pid 1 for over 20 ms$/);
  // Not the 10 s default: the option reached the file lock.
  const waited = clock.now() - start;
  equal(waited >= 20 && waited < 1_000, true, `waited ${waited} ms`);
  deepEqual(lockout.status("alice", IP), { locked: false });
  await rejects(Deno.stat(path), Deno.errors.NotFound);
});

Deno.test("Lockout.unlockAccount() says which locks it lifted, with the time each had left", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await fail(lockout, "alice", 3);
  clock.advance(10_000);
  await fail(lockout, "alice", 1, "198.51.100.1"); // a failure, no lock
  await fail(lockout, "bob", 3);
  deepEqual(await lockout.unlockAccount("alice"), {
    lockedFrom: [{ address: IP, retryAfterMs: 50_000 }],
    records: 2,
    slowdown: true,
  });
  equal(lockout.status("bob", IP).locked, true, "only alice's locks");
  deepEqual(await lockout.unlockAccount("alice"), { lockedFrom: [], records: 0, slowdown: false });
});

Deno.test("Lockout.unlockAddress() lifts an address lock on every account, not the accounts' own", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  equal(await lockout.unlockAddress(IP), undefined, "no file yet");
  await fail(lockout, "alice", 3);
  for (let i = 0; i < 7; i++) await lockout.recordFailure(`guess${i}`, IP);
  deepEqual(lockout.status("carol", IP), { locked: true, retryAfterMs: MINUTE, scope: "ip" });
  equal(await lockout.unlockAddress(IP), MINUTE);
  deepEqual(lockout.status("carol", IP), { locked: false });
  equal(lockout.status("alice", IP).locked, true);
  equal(await lockout.unlockAddress(IP), undefined);
  equal(await lockout.unlockAddress("198.51.100.9"), undefined);
});

Deno.test("Lockout.locks() lists address locks, account locks and slow-downs with time left", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await fail(lockout, "bob", 3, "198.51.100.1");
  await fail(lockout, "alice", 3);
  clock.advance(20_000);
  for (let i = 0; i < 7; i++) await lockout.recordFailure(`guess${i}`, IP);
  deepEqual(lockout.locks(), [
    { kind: "ip", address: IP, retryAfterMs: MINUTE },
    { kind: "account", account: "alice", address: IP, retryAfterMs: 40_000 },
    { kind: "account", account: "bob", address: "198.51.100.1", retryAfterMs: 40_000 },
    { kind: "slowdown", account: "bob", delayMs: 1_000 },
    { kind: "slowdown", account: "alice", delayMs: 1_000 },
  ]);
  clock.advance(MINUTE);
  deepEqual(lockout.locks().map((lock) => lock.kind), ["slowdown", "slowdown"]);
});

Deno.test("Lockout starts a record afresh when its own next failure comes 24 hours after the last", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await fail(lockout, "alice", 3); // locked for 1 minute
  clock.advance(MINUTE);
  await fail(lockout, "alice", 2); // two toward the next lock
  clock.advance(LOCKOUT_FORGET_MS);
  // No other write in between: the stale record is still forgotten, so one
  // failure is not the third in a row, and the next lock is 1 minute again.
  equal((await fail(lockout, "alice", 1))?.status.locked, false);
  deepEqual((await fail(lockout, "alice", 2))?.status, {
    locked: true,
    retryAfterMs: MINUTE,
    scope: "account",
  });
});

Deno.test("Lockout counts failures in any case toward one account and unlockAccount() lifts them all", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const lockout = await Lockout.open(`${dir.path}/lockout.json`, { clock });
  await lockout.recordFailure("ALICE", IP);
  await lockout.recordFailure("Alice", IP);
  const { newLock } = await lockout.recordFailure("alice", IP);
  equal(newLock, true, "the third failure, whatever its case, locks alice from there");
  deepEqual(lockout.status("alice", IP), { locked: true, retryAfterMs: MINUTE, scope: "account" });
  deepEqual(lockout.status("aLiCe", IP), { locked: true, retryAfterMs: MINUTE, scope: "account" });
  equal(lockout.delayMs("alice", "198.51.100.1"), 1_000, "one slow-down for every case");
  deepEqual(lockout.locks().map((lock) => lock.kind === "ip" ? lock.address : lock.account), [
    "alice",
    "alice",
  ]);
  deepEqual(await lockout.unlockAccount("alice"), {
    lockedFrom: [{ address: IP, retryAfterMs: MINUTE }],
    records: 1,
    slowdown: true,
  });
  deepEqual(lockout.status("ALICE", IP), { locked: false });
  equal(lockout.delayMs("ALICE", "198.51.100.1"), 0);
});

Deno.test("Lockout folds the names of a file written before names were folded, merging their records", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/lockout.json`;
  const now = clock.now();
  const counter = (failures: number, level: number, lockedUntil: number, ago = 0) => ({
    failures,
    level,
    lockedUntil,
    lastFailure: now - ago,
  });
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      version: 2,
      pairs: {
        [`ALICE ${IP}`]: counter(1, 1, 0, 5 * MINUTE),
        [`alice ${IP}`]: counter(1, 0, 0),
        "Bob 192.0.2.8": counter(0, 1, now + MINUTE),
      },
      accounts: { Alice: counter(1, 0, 0), alice: counter(1, 0, 0) },
      ips: {},
    }),
  );
  const lockout = await Lockout.open(path, { clock });
  // Merged: 1 + 1 failures and level 1, so the next failure locks for 5 min.
  equal(lockout.delayMs("alice", "198.51.100.1"), 0, "2 failures: not slowed yet");
  deepEqual(lockout.status("bob", "192.0.2.8"), {
    locked: true,
    retryAfterMs: MINUTE,
    scope: "account",
  });
  deepEqual(await lockout.recordFailure("alice", IP), {
    newLock: true,
    status: { locked: true, retryAfterMs: 5 * MINUTE, scope: "account" },
  });
  const saved = JSON.parse(await Deno.readTextFile(path));
  deepEqual(Object.keys(saved.pairs).sort(), [`alice ${IP}`, "bob 192.0.2.8"]);
  deepEqual(Object.keys(saved.accounts), ["alice"]);
  equal(saved.accounts.alice.failures, 3);
});
