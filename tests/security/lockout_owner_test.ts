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
import { within } from "../_helpers.ts";
import { Hasher, type VerifyResult } from "../../lib/auth/hash.ts";
import { Lockout, type LockoutOptions, MAX_SLOWED_WAITING } from "../../lib/auth/lockout.ts";
import { Authenticator, type LoginResult } from "../../lib/auth/login.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { fixedRandom, GOOD_PASSWORD, tempDir, TEST_PARAMS } from "../auth/_helpers.ts";

const ATTACKER = "203.0.113.66";
const OWNER = "198.51.100.7";
const MINUTE = 60_000;
/** The slow-down's longest delay, reached from the 6th failure in a row. */
const STEP = 8_000;

/** Counts password checks (real or dummy) as they start, and when. */
class CheckCounter extends Hasher {
  checks = 0;
  /** The fake time of each check's start. */
  readonly starts: number[] = [];
  #clock: FakeClock;
  #waiters: (() => void)[] = [];
  constructor(clock: FakeClock) {
    super({ params: TEST_PARAMS });
    this.#clock = clock;
  }
  override verify(password: string, stored: string): Promise<VerifyResult> {
    this.#count();
    return super.verify(password, stored);
  }
  override verifyDummy(password: string): Promise<VerifyResult> {
    this.#count();
    return super.verifyDummy(password);
  }
  /** Resolves once `n` checks have started. */
  async until(n: number): Promise<void> {
    while (this.checks < n) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiters.push(resolve);
      await promise;
    }
  }
  #count(): void {
    this.checks++;
    this.starts.push(this.#clock.now());
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

async function open(dir: string, clock: FakeClock, options: LockoutOptions = {}) {
  const hasher = new CheckCounter(clock);
  const store = await CredentialStore.open(`${dir}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    clock,
  });
  if (!store.get("alice")) await store.add("alice", GOOD_PASSWORD);
  const lockout = await Lockout.open(`${dir}/data/lockout.json`, { clock, ...options });
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
  return { auth, lockout, login, hasher };
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

/** 6 failures in a row on `name` from 6 addresses: the delay is 8 s now. */
async function slowDown(
  login: (username: string, password: string, ip: string) => Promise<LoginResult>,
  name: string,
) {
  for (let i = 0; i < 6; i++) await login(name, `warm-up ${i}`, `192.0.2.${100 + i}`);
}

/** Address `i`'s own /64. */
function net64(i: number): string {
  return `2001:db8:${i.toString(16)}::1`;
}

/**
 * 200 parallel guesses on `name` from 200 /64s, all allowed to wait: how
 * many have been checked after each of `steps` delays. With `primed`, each
 * address has failed once on `name` before (one guess each, in turn).
 */
async function parallelStorm(name: string, steps: number, primed = false) {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { auth, login, hasher } = await open(dir.path, clock, { maxSlowedWaiting: 200 });
  await slowDown(login, name);
  if (primed) {
    for (let i = 0; i < 200; i++) await login(name, `first guess ${i}`, net64(i));
  }
  const base = hasher.checks;
  let answered = 0;
  const answers: (() => void)[] = [];
  const attempts = Array.from(
    { length: 200 },
    (_, i) =>
      auth.login({ username: name, password: `guess ${i}`, ip: net64(i) }).finally(() => {
        answered++;
        for (const wake of answers.splice(0)) wake();
      }),
  );
  const untilAnswered = async (n: number) => {
    while (answered < n) await new Promise<void>((resolve) => answers.push(resolve));
  };
  const trace: number[] = [hasher.checks - base];
  // One delay at a time, each step waiting for its answer, so the clock
  // never runs ahead of the checks it lets start.
  for (let k = 1; k <= 200 && answered < 200; k++) {
    await clock.tick(STEP);
    await within(untilAnswered(k), 5_000, `answer ${k}`);
    if (k <= steps) trace.push(hasher.checks - base);
  }
  const reasons = (await Promise.all(attempts)).map(reason);
  // However the real hashing interleaves, no two checks started less than
  // one delay apart on the clock.
  const starts = hasher.starts.slice(base);
  const gaps = starts.slice(1).map((at, i) => at - (starts[i] ?? 0));
  return {
    trace,
    reasons: [...new Set(reasons)],
    checks: starts.length,
    closestMs: Math.min(...gaps),
  };
}

Deno.test("lockout: 200 parallel guesses on alice from 200 /64s are checked one per delay", async () => {
  const { trace, reasons, checks, closestMs } = await parallelStorm("alice", 5);
  // Before this fix all 200 were checked within the first delay.
  deepEqual(trace, [0, 1, 2, 3, 4, 5]);
  equal(closestMs >= STEP, true, `two checks ${closestMs} ms apart`);
  deepEqual(reasons, ["invalid"]);
  equal(checks, 200);
});

Deno.test("lockout: addresses with failures of their own on alice get no guesses past the schedule", async () => {
  const { trace, reasons, closestMs } = await parallelStorm("alice", 3, true);
  // They used to skip the slow-down: 2 guesses each, all at once.
  deepEqual(trace, [0, 1, 2, 3]);
  equal(closestMs >= STEP, true, `two checks ${closestMs} ms apart`);
  deepEqual(reasons, ["invalid"]);
});

Deno.test("lockout: parallel guesses on an unknown name are spread exactly as on a real one", async () => {
  const real = await parallelStorm("alice", 3);
  const fake = await parallelStorm("nosuchuser", 3);
  deepEqual(fake, real);
});

/** 200 parallel guesses with the default bound: who waits, who is busy. */
async function boundedStorm(name: string) {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { auth, login, hasher } = await open(dir.path, clock);
  await slowDown(login, name);
  const base = hasher.checks;
  let answered = 0;
  const busyAnswered = Promise.withResolvers<void>();
  const attempts = Array.from(
    { length: 200 },
    (_, i) =>
      auth.login({ username: name, password: `guess ${i}`, ip: net64(i) }).finally(() => {
        if (++answered === 200 - MAX_SLOWED_WAITING) busyAnswered.resolve();
      }),
  );
  // Every attempt has its slot or its answer before time moves.
  await within(clock.untilPendingTimers(MAX_SLOWED_WAITING), 5_000, "the waiting guesses");
  await within(busyAnswered.promise, 5_000, "busy answers");
  const checkedAtOnce = hasher.checks - base;
  const results = await clock.runUntilSettled(Promise.all(attempts));
  const count = (r: string) => results.filter((x) => reason(x) === r).length;
  return {
    checkedAtOnce,
    invalid: count("invalid"),
    busy: count("busy"),
    checks: hasher.checks - base,
  };
}

Deno.test("lockout: past the few guesses that may wait for a slot, the answer is busy, unchecked", async () => {
  const real = await boundedStorm("alice");
  deepEqual(real, {
    checkedAtOnce: 0,
    invalid: MAX_SLOWED_WAITING,
    busy: 200 - MAX_SLOWED_WAITING,
    checks: MAX_SLOWED_WAITING,
  });
  deepEqual(await boundedStorm("nosuchuser"), real);
});

Deno.test("lockout: the owner from an address he logged in from skips a full schedule; a new address is busy", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { auth, login } = await open(dir.path, clock);
  equal(reason(await login("alice", GOOD_PASSWORD, OWNER)), "ok");
  await slowDown(login, "alice");
  const storm = Array.from(
    { length: MAX_SLOWED_WAITING },
    (_, i) => auth.login({ username: "alice", password: `guess ${i}`, ip: net64(i) }),
  );
  await within(clock.untilPendingTimers(MAX_SLOWED_WAITING), 5_000, "the waiting guesses");
  // Time does not move: neither answer may wait for a slot.
  const now = (ip: string) =>
    within(auth.login({ username: "alice", password: GOOD_PASSWORD, ip }), 5_000, ip);
  equal(reason(await now("198.51.100.99")), "busy");
  equal(reason(await now(OWNER)), "ok");
  await clock.runUntilSettled(Promise.all(storm));
});
