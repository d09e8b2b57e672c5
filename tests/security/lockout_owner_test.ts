/**
 * Issue 13 item 7: a stranger who knows a name must not keep its owner
 * locked out. Locks are per account and address; the account as a whole is
 * only slowed down; an address failing on many accounts is still locked;
 * all of it survives a restart.
 *
 * @module
 */
import { deepEqual, equal } from "node:assert/strict";
import { FakeClock } from "../_fake_clock.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { Authenticator, type LoginResult } from "../../lib/auth/login.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { fixedRandom, GOOD_PASSWORD, tempDir, testHasher } from "../auth/_helpers.ts";

const ATTACKER = "203.0.113.66";
const OWNER = "198.51.100.7";
const MINUTE = 60_000;

async function open(dir: string, clock: FakeClock) {
  const hasher = testHasher();
  const store = await CredentialStore.open(`${dir}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    clock,
  });
  if (!store.get("alice")) await store.add("alice", GOOD_PASSWORD);
  const lockout = await Lockout.open(`${dir}/data/lockout.json`, { clock });
  const auth = new Authenticator({
    store,
    hasher,
    lockout,
    clock,
    onError: (error) => {
      throw error;
    },
    onLockout: () => {},
  });
  const login = (username: string, password: string, ip: string): Promise<LoginResult> =>
    clock.runUntilSettled(auth.login({ username, password, ip }));
  return { auth, lockout, login };
}

function reason(result: LoginResult): string {
  return result.ok ? "ok" : result.reason;
}

Deno.test("lockout: 30 failures on alice from one address do not lock alice out elsewhere", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { login } = await open(dir.path, clock);
  const strikes: string[] = [];
  for (let i = 0; i < 30; i++) {
    strikes.push(reason(await login("alice", `guess number ${i}`, ATTACKER)));
  }
  deepEqual(strikes.slice(0, 3), ["invalid", "invalid", "invalid"]);
  equal(strikes.slice(3).every((r) => r === "locked"), true, strikes.join());

  const owner = await login("alice", GOOD_PASSWORD, OWNER);
  equal(owner.ok, true, `the owner from a clean address got ${reason(owner)}`);

  // The attacker stays locked, even with the right password.
  const retry = await login("alice", GOOD_PASSWORD, ATTACKER);
  equal(reason(retry), "locked");
  equal(!retry.ok && retry.reason === "locked" && retry.retryAfterMs > 0, true);
});

Deno.test("lockout: the attacker's lock survives a restart, the owner still gets in", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  {
    const { login } = await open(dir.path, clock);
    for (let i = 0; i < 30; i++) await login("alice", `guess ${i}`, ATTACKER);
  }
  clock.advance(30_000);
  const { login, lockout } = await open(dir.path, clock);
  const status = lockout.status("alice", ATTACKER);
  deepEqual(status, { locked: true, retryAfterMs: MINUTE - 30_000, scope: "account" });
  equal(reason(await login("alice", GOOD_PASSWORD, ATTACKER)), "locked");
  equal(reason(await login("alice", GOOD_PASSWORD, OWNER)), "ok");
});

Deno.test("lockout: many strangers slow the account down but never lock its owner out", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { login, lockout } = await open(dir.path, clock);
  // 20 addresses, 3 strikes each: every one ends up locked from alice.
  for (let a = 0; a < 20; a++) {
    for (let i = 0; i < 3; i++) await login("alice", `guess ${i}`, `203.0.113.${a}`);
  }
  equal(lockout.status("alice", "203.0.113.19").locked, true);
  equal(lockout.status("alice", OWNER).locked, false);
  // The slow-down is bounded (8 s), well inside the 30 s login timeout.
  equal(lockout.delayMs("alice", "192.0.2.222") <= 8_000, true);
  equal(lockout.delayMs("alice", "192.0.2.222") > 0, true);
  const before = clock.now();
  equal(reason(await login("alice", GOOD_PASSWORD, OWNER)), "ok");
  equal(clock.now() - before <= 8_000, true);
  // The owner's success ends the slow-down.
  equal(lockout.delayMs("alice", "192.0.2.222"), 0);
});

Deno.test("lockout: unknown names behave exactly as real ones", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { login, lockout } = await open(dir.path, clock);
  const trace = async (name: string, ip: string) => {
    const out: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await login(name, `guess ${i}`, ip);
      out.push(
        result.ok
          ? "ok"
          : result.reason === "locked"
          ? `locked ${result.retryAfterMs}`
          : result.reason,
      );
    }
    return { out, delay: lockout.delayMs(name, "192.0.2.222") };
  };
  const real = await trace("alice", "203.0.113.1");
  const fake = await trace("nosuchuser", "203.0.113.2");
  deepEqual(fake, real);
});

Deno.test("lockout: an address failing on many accounts is still locked for all", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { login } = await open(dir.path, clock);
  for (let i = 0; i < 10; i++) await login(`user${i}`, "wrong password", ATTACKER);
  const result = await login("alice", GOOD_PASSWORD, ATTACKER);
  equal(reason(result), "locked");
  equal(reason(await login("alice", GOOD_PASSWORD, OWNER)), "ok");
});
