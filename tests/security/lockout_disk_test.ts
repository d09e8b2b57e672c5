/**
 * Issue 13 item 6: with the data directory full, lockouts failed open (30
 * wrong passwords were all checked, none locked). Now failures are still
 * counted in memory, password logins are refused while they cannot be
 * saved, and resume once the file can be written. A full disk cannot be
 * made safely here, so the lockout file's writer is injected (ENOSPC); the
 * end-to-end test breaks the real file instead (a directory in its place).
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { FakeClock } from "../_fake_clock.ts";
import { writeFileAtomic } from "../../lib/util/atomic_write.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { Authenticator, type LoginResult, LOGINS_PAUSED_MESSAGE } from "../../lib/auth/login.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { Hasher, type VerifyResult } from "../../lib/auth/hash.ts";
import { fixedRandom, GOOD_PASSWORD, tempDir, TEST_PARAMS } from "../auth/_helpers.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { closedPort } from "../_joke_api.ts";

const ATTACKER = "203.0.113.9";
const OWNER = "198.51.100.7";

/** A writer that fails like a full disk while `full` is set. */
function diskSwitch() {
  const disk = {
    full: false,
    writes: 0,
    write: async (path: string, text: string) => {
      if (disk.full) {
        throw Object.assign(new Error("No space left on device (os error 28)"), {
          code: "ENOSPC",
        });
      }
      disk.writes++;
      await writeFileAtomic(path, text);
    },
  };
  return disk;
}

class CountingHasher extends Hasher {
  checks = 0;
  constructor() {
    super({ params: TEST_PARAMS });
  }
  override verify(password: string, stored: string): Promise<VerifyResult> {
    this.checks++;
    return super.verify(password, stored);
  }
  override verifyDummy(password: string): Promise<VerifyResult> {
    this.checks++;
    return super.verifyDummy(password);
  }
}

Deno.test("lockout: failures are counted and lock in memory while the file cannot be written", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const disk = diskSwitch();
  const path = `${dir.path}/lockout.json`;
  const lockout = await Lockout.open(path, { clock, writeFile: disk.write });
  disk.full = true;
  for (let i = 0; i < 2; i++) await lockout.recordFailure("alice", ATTACKER);
  const third = await lockout.recordFailure("alice", ATTACKER);
  deepEqual(third, {
    newLock: true,
    status: { locked: true, retryAfterMs: 60_000, scope: "account" },
  });
  ok(lockout.writeError?.message.includes("No space left"));
  equal(await lockout.flush(), false);
  equal(lockout.status("alice", ATTACKER).locked, true);

  disk.full = false;
  equal(await lockout.flush(), true);
  equal(lockout.writeError, undefined);
  // Saved: a restart sees the lock.
  const restarted = await Lockout.open(path, { clock });
  equal(restarted.status("alice", ATTACKER).locked, true);
});

Deno.test("lockout: password logins are refused while failures cannot be recorded, and resume after", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const disk = diskSwitch();
  const hasher = new CountingHasher();
  const store = await CredentialStore.open(`${dir.path}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    clock,
  });
  await store.add("alice", GOOD_PASSWORD);
  const lockout = await Lockout.open(`${dir.path}/data/lockout.json`, {
    clock,
    writeFile: disk.write,
  });
  const writeErrors: Error[] = [];
  const pauses: (string | undefined)[] = [];
  const auth = new Authenticator({
    store,
    hasher,
    lockout,
    clock,
    onError: (error) => {
      throw error;
    },
    onLockout: () => {},
    onLockoutWriteError: (error) => writeErrors.push(error),
    onPause: (error) => pauses.push(error?.message),
  });
  const login = (password: string, ip: string): Promise<LoginResult> =>
    clock.runUntilSettled(auth.login({ username: "alice", password, ip }));

  disk.full = true;
  const results: LoginResult[] = [];
  for (let i = 0; i < 30; i++) results.push(await login(`guess ${i}`, ATTACKER));
  // The first guess was checked and counted; the other 29 were not checked.
  equal(results[0]?.ok === false && results[0].reason, "invalid");
  const paused = { ok: false, reason: "busy", message: LOGINS_PAUSED_MESSAGE };
  for (const result of results.slice(1)) deepEqual(result, paused);
  equal(hasher.checks, 1);
  // Even the owner's right password waits for the disk.
  deepEqual(await login(GOOD_PASSWORD, OWNER), paused);
  equal(hasher.checks, 1);
  deepEqual(pauses, ["No space left on device (os error 28)"]);
  ok(writeErrors.length >= 1);
  // Certificate logins do not depend on lockouts.
  equal((await auth.loginWithCertificate("alice")).ok, true);

  disk.full = false;
  equal((await login(GOOD_PASSWORD, OWNER)).ok, true);
  deepEqual(pauses, ["No space left on device (os error 28)", undefined]);
  // The failure counted while the disk was full was saved.
  const saved = JSON.parse(await Deno.readTextFile(`${dir.path}/data/lockout.json`));
  equal(saved.pairs[`alice ${ATTACKER}`]?.failures, 1);
  // And counting goes on: two more guesses lock the attacker.
  await login("guess a", ATTACKER);
  await login("guess b", ATTACKER);
  equal((await login(GOOD_PASSWORD, ATTACKER)).ok === false, true);
  equal(lockout.status("alice", ATTACKER).locked, true);
});

Deno.test("lockout: a server whose lockout file cannot be written says so with bye busy and in /metrics", async () => {
  await using s = await startTestServer({
    users: ["alice"],
    config: { httpPort: closedPort() },
  });
  const lockoutFile = `${s.config.data}/lockout.json`;
  // Break the file for real: a directory where it should be.
  await Deno.mkdir(lockoutFile, { recursive: true });
  {
    await using client = await s.client();
    const first = await client.login("alice", "wrong password 1");
    equal(first.type === "auth_failed" && first.reason, "invalid");
    await client.until((f) => f.type === "auth");
    await client.send({ type: "login", username: "alice", password: passwordOf("alice") });
    const bye = await client.until((f) => f.type !== "auth");
    deepEqual(bye, { type: "bye", code: "busy", message: LOGINS_PAUSED_MESSAGE });
  }
  const http = s.server.httpAddr;
  ok(http, "the test server serves /metrics");
  const metrics = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
  ok(/^banter_logins_paused 1$/m.test(metrics), metrics);
  ok(/^banter_lockout_write_errors_total [1-9]/m.test(metrics));
  ok(/^banter_logins_total\{result="busy"\} 1$/m.test(metrics));

  await Deno.remove(lockoutFile);
  await using client = await s.client();
  equal((await client.login("alice", passwordOf("alice"))).type, "welcome");
  const after = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
  ok(/^banter_logins_paused 0$/m.test(after));
});
