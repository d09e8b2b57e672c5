import { FakeClock } from "../_fake_clock.ts";
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";
import { Hasher, type VerifyResult } from "../../lib/auth/hash.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import {
  Authenticator,
  type AuthenticatorOptions,
  type LockoutEvent,
} from "../../lib/auth/login.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { fixedRandom, GOOD_PASSWORD, tempDir, TEST_PARAMS } from "./_helpers.ts";

const IP = "192.0.2.50";

/** A test hasher that counts the expensive operations. */
class CountingHasher extends Hasher {
  verifies = 0;
  dummies = 0;
  constructor() {
    super({ params: TEST_PARAMS });
  }
  override verify(password: string, stored: string): Promise<VerifyResult> {
    this.verifies++;
    return super.verify(password, stored);
  }
  override verifyDummy(password: string): Promise<VerifyResult> {
    this.dummies++;
    return super.verifyDummy(password);
  }
  get work(): number {
    return this.verifies + this.dummies;
  }
}

async function setup(
  dir: string,
  options: Partial<AuthenticatorOptions> = {},
) {
  const clock = new FakeClock();
  const hasher = new CountingHasher();
  const store = await CredentialStore.open(`${dir}/credentials.json`, {
    hasher,
    random: fixedRandom(),
  });
  await store.add("alice", GOOD_PASSWORD, "admin");
  await store.add("bob", "hidden river 77");
  const lockout = await Lockout.open(`${dir}/data/lockout.json`, { clock });
  const errors: Error[] = [];
  const locks: LockoutEvent[] = [];
  const auth = new Authenticator({
    store,
    hasher,
    lockout,
    clock,
    onError: (error) => errors.push(error),
    onLockout: (event) => locks.push(event),
    ...options,
  });
  return { auth, store, hasher, lockout, clock, errors, locks };
}

Deno.test("Authenticator.login() returns the user, role and account id for the right password", async () => {
  await using dir = await tempDir();
  const { auth, errors, store } = await setup(dir.path);
  deepEqual(
    await auth.login({ username: "alice", password: GOOD_PASSWORD, ip: IP }),
    { ok: true, user: { name: "alice", role: "admin", id: store.get("alice")?.id } },
  );
  deepEqual(
    await auth.login({ username: "bob", password: "hidden river 77", ip: IP }),
    { ok: true, user: { name: "bob", role: "user", id: store.get("bob")?.id } },
  );
  deepEqual(errors, []);
});

Deno.test("Authenticator.login() gives unknown users and wrong passwords the same answer and the same work", async () => {
  await using dir = await tempDir();
  const { auth, hasher } = await setup(dir.path);
  const attempts = [
    { username: "alice", password: "wrong password" },
    { username: "nobody", password: "wrong password" },
    { username: "ALICE", password: GOOD_PASSWORD },
    { username: "not a valid name!", password: GOOD_PASSWORD },
    { username: "alice", password: "x".repeat(100_000) },
  ];
  for (const attempt of attempts) {
    const before = hasher.work;
    deepEqual(await auth.login({ ...attempt, ip: `203.0.113.${before}` }), {
      ok: false,
      reason: "invalid",
    }, attempt.username);
    // Exactly one full-cost hash, real or dummy.
    equal(hasher.work, before + 1, attempt.username);
  }
  equal(hasher.dummies, 4);
});

Deno.test("Authenticator.login() locks after 3 failures and then does no hash work", async () => {
  await using dir = await tempDir();
  const { auth, hasher, clock, locks } = await setup(dir.path);
  for (let i = 0; i < 3; i++) {
    equal(
      (await auth.login({ username: "alice", password: "wrong guess", ip: IP }))
        .ok,
      false,
    );
  }
  deepEqual(locks, [{
    scope: "account",
    username: "alice",
    ip: IP,
    retryAfterMs: 60_000,
  }]);
  const work = hasher.work;
  // Even the right password is refused while locked.
  deepEqual(
    await auth.login({ username: "alice", password: GOOD_PASSWORD, ip: IP }),
    { ok: false, reason: "locked", retryAfterMs: 60_000, scope: "account" },
  );
  equal(hasher.work, work);
  clock.advance(60_000);
  equal(
    (await auth.login({ username: "alice", password: GOOD_PASSWORD, ip: IP }))
      .ok,
    true,
  );
});

Deno.test("Authenticator.login() locks unknown names too, so a lock reveals nothing", async () => {
  await using dir = await tempDir();
  const { auth } = await setup(dir.path);
  for (const username of ["alice", "ghost"]) {
    const ip = username === "alice" ? "198.51.100.1" : "198.51.100.2";
    for (let i = 0; i < 3; i++) {
      await auth.login({ username, password: "wrong guess", ip });
    }
    deepEqual(
      await auth.login({ username, password: "wrong guess", ip }),
      { ok: false, reason: "locked", retryAfterMs: 60_000, scope: "account" },
    );
  }
});

Deno.test("Authenticator.login() success clears the account's failures", async () => {
  await using dir = await tempDir();
  const { auth, store } = await setup(dir.path);
  const login = (password: string) => auth.login({ username: "alice", password, ip: IP });
  await login("wrong guess");
  await login("wrong guess");
  equal((await login(GOOD_PASSWORD)).ok, true);
  await login("wrong guess");
  await login("wrong guess");
  deepEqual(await login(GOOD_PASSWORD), {
    ok: true,
    user: { name: "alice", role: "admin", id: store.get("alice")?.id },
  });
});

Deno.test("Authenticator.login() upgrades a legacy SHA-256 hash to scrypt", async () => {
  await using dir = await tempDir();
  const { auth, store, errors } = await setup(dir.path);
  const digest = createHash("sha256").update("legacy secret 1").digest("hex");
  await store.setHash("bob", digest);
  deepEqual(
    await auth.login({ username: "bob", password: "legacy secret 1", ip: IP }),
    { ok: true, user: { name: "bob", role: "user", id: store.get("bob")?.id } },
  );
  const upgraded = store.get("bob")?.hash ?? "";
  match(upgraded, /^\$scrypt\$ln=10,r=8,p=1\$/);
  const onDisk = JSON.parse(await Deno.readTextFile(store.path));
  equal(onDisk.users.bob.hash, upgraded);
  equal(
    (await auth.login({ username: "bob", password: "legacy secret 1", ip: IP }))
      .ok,
    true,
  );
  deepEqual(errors, []);
});

Deno.test("Authenticator.login() upgrades bcrypt and weaker scrypt hashes", async () => {
  await using dir = await tempDir();
  const { auth, store } = await setup(dir.path);
  await store.setHash("bob", bcrypt.hashSync("bcrypt secret 1", 4));
  equal((await auth.login({ username: "bob", password: "bcrypt secret 1", ip: IP })).ok, true);
  match(store.get("bob")?.hash ?? "", /^\$scrypt\$ln=10,/);

  const weak = await new Hasher({ params: { logN: 9, r: 8, p: 1 } }).hash("weak secret 12");
  await store.setHash("bob", weak);
  equal((await auth.login({ username: "bob", password: "weak secret 12", ip: IP })).ok, true);
  match(store.get("bob")?.hash ?? "", /^\$scrypt\$ln=10,/);
});

Deno.test("Authenticator.login() still succeeds when the hash upgrade cannot be saved", async () => {
  await using dir = await tempDir();
  const { auth, store, errors } = await setup(dir.path);
  const digest = createHash("sha256").update("legacy secret 1").digest("hex");
  await store.setHash("bob", digest);
  // A directory where the lock file goes makes every write fail.
  await Deno.mkdir(`${store.path}.lock`);
  deepEqual(
    await auth.login({ username: "bob", password: "legacy secret 1", ip: IP }),
    { ok: true, user: { name: "bob", role: "user", id: store.get("bob")?.id } },
  );
  equal(store.get("bob")?.hash, digest);
  equal(errors.length, 1);
  equal(errors[0]?.message, `Cannot upgrade password hash of "bob"`);
  for (const error of errors) {
    equal(String(error.cause).includes("legacy secret 1"), false);
    equal(String(error.cause).includes(digest), false);
  }
});

Deno.test("Authenticator.login() sees users added and removed by another writer", async () => {
  await using dir = await tempDir();
  const { auth, store } = await setup(dir.path);
  const cli = await CredentialStore.open(store.path, {
    hasher: new Hasher({ params: TEST_PARAMS }),
  });
  await cli.add("carol", "green kettle 55");
  equal((await auth.login({ username: "carol", password: "green kettle 55", ip: IP })).ok, true);
  await cli.remove("carol");
  equal((await auth.login({ username: "carol", password: "green kettle 55", ip: IP })).ok, false);
});

Deno.test("Authenticator.login() keeps serving when the credentials file breaks", async () => {
  await using dir = await tempDir();
  const { auth, store, errors } = await setup(dir.path);
  await Deno.writeTextFile(store.path, "{broken");
  equal((await auth.login({ username: "alice", password: GOOD_PASSWORD, ip: IP })).ok, true);
  equal(errors.length, 1);
  ok(errors[0]?.message.startsWith(`Cannot load credentials from ${store.path}`));
});

Deno.test("Authenticator.loginWithCertificate() accepts the common name of an existing user", async () => {
  await using dir = await tempDir();
  const { auth, hasher, store } = await setup(dir.path);
  deepEqual(await auth.loginWithCertificate("bob"), {
    ok: true,
    user: { name: "bob", role: "user", id: store.get("bob")?.id },
  });
  deepEqual(await auth.loginWithCertificate("mallory"), {
    ok: false,
    reason: "invalid",
  });
  deepEqual(await auth.loginWithCertificate("../etc"), {
    ok: false,
    reason: "invalid",
  });
  equal(hasher.work, 0);
});

Deno.test("Authenticator: parallel guesses from one address get no more than ten tries", async () => {
  await using dir = await tempDir();
  // A queue long enough for all 25, so only the lockout refuses.
  const { auth, hasher } = await setup(dir.path, { maxQueuedPerAddress: 25 });
  const results = await Promise.all(
    Array.from(
      { length: 25 },
      (_, i) => auth.login({ username: `nobody${i}`, password: "wrong password", ip: IP }),
    ),
  );
  const reasons = results.map((r) => (r.ok ? "ok" : r.reason));
  equal(reasons.filter((r) => r === "invalid").length, 10);
  equal(reasons.filter((r) => r === "locked").length, 15);
  equal(hasher.work, 10, "locked attempts cost no hashing");
});

Deno.test("Authenticator: parallel logins of two users from one address both succeed", async () => {
  await using dir = await tempDir();
  const { auth } = await setup(dir.path);
  const results = await Promise.all([
    auth.login({ username: "alice", password: GOOD_PASSWORD, ip: IP }),
    auth.login({ username: "bob", password: "hidden river 77", ip: IP }),
  ]);
  deepEqual(results.map((r) => r.ok), [true, true]);
});

Deno.test("Authenticator: guesses past the address's queue bound are answered busy, unchecked", async () => {
  await using dir = await tempDir();
  const { auth, hasher } = await setup(dir.path, { maxQueuedPerAddress: 2, maxConcurrent: 1 });
  const results = await Promise.all(
    Array.from(
      { length: 6 },
      (_, i) => auth.login({ username: `nobody${i}`, password: "wrong password", ip: IP }),
    ),
  );
  // One running, two waiting; the other three refused at once.
  deepEqual(results.map((r) => (r.ok ? "ok" : r.reason)).sort(), [
    "busy",
    "busy",
    "busy",
    "invalid",
    "invalid",
    "invalid",
  ]);
  equal(hasher.work, 3);
});

/** A hasher whose `verify` waits, once `hold()` was called, until the test
 * calls `release()`: account changes land while the hash runs. */
class GatedHasher extends CountingHasher {
  #gate: PromiseWithResolvers<void> | undefined;
  #verifying = Promise.withResolvers<void>();
  /** Settles when a held `verify` has started. */
  get verifying(): Promise<void> {
    return this.#verifying.promise;
  }
  hold(): void {
    this.#gate = Promise.withResolvers();
    this.#verifying = Promise.withResolvers();
  }
  release(): void {
    this.#gate?.resolve();
    this.#gate = undefined;
  }
  override async verify(password: string, stored: string): Promise<VerifyResult> {
    const result = await super.verify(password, stored);
    if (this.#gate !== undefined) {
      this.#verifying.resolve();
      await this.#gate.promise;
    }
    return result;
  }
}

/** An authenticator over a gated hasher, and the admin CLI's own store on
 * the same credentials file. */
async function setupRace(dir: string) {
  const hasher = new GatedHasher();
  const parts = await setup(dir, { hasher });
  const cli = await CredentialStore.open(parts.store.path, {
    hasher: new Hasher({ params: TEST_PARAMS }),
    createIfMissing: false,
  });
  /** Log alice in with `password`, running `change` while her hash runs
   * and letting the server's refresh see it before the hash ends. */
  const loginDuring = async (change: () => Promise<unknown>, password = GOOD_PASSWORD) => {
    hasher.hold();
    const login = parts.auth.login({ username: "alice", password, ip: IP });
    await hasher.verifying;
    await change();
    await parts.store.refresh(); // followAccounts ran now: no session of hers to change
    hasher.release();
    return await login;
  };
  return { ...parts, hasher, cli, loginDuring };
}

Deno.test("Authenticator.login() answers an old password changed while its hash ran as a wrong one", async () => {
  await using dir = await tempDir();
  const { auth, cli, clock, locks, loginDuring } = await setupRace(dir.path);
  const fresh = "a brand new passphrase 42";
  deepEqual(
    await loginDuring(async () => {
      await cli.setRole("alice", "user");
      await cli.setPassword("alice", fresh);
    }),
    { ok: false, reason: "invalid" },
  );
  // It counted as a failure: two more wrong guesses lock the account.
  for (let i = 0; i < 2; i++) {
    await auth.login({ username: "alice", password: "wrong guess", ip: IP });
  }
  equal(locks.length, 1);
  clock.advance(60_000);
  deepEqual(await auth.login({ username: "alice", password: fresh, ip: IP }), {
    ok: true,
    user: { name: "alice", role: "user", id: cli.get("alice")?.id },
  });
});

Deno.test("Authenticator.login() takes a role changed while the hash ran", async () => {
  await using dir = await tempDir();
  const { cli, loginDuring } = await setupRace(dir.path);
  deepEqual(await loginDuring(() => cli.setRole("alice", "user")), {
    ok: true,
    user: { name: "alice", role: "user", id: cli.get("alice")?.id },
  });
});

Deno.test("Authenticator.login() refuses an account removed, or removed and re-created, while the hash ran", async () => {
  await using dir = await tempDir();
  const { cli, loginDuring } = await setupRace(dir.path);
  equal((await loginDuring(() => cli.remove("bob"))).ok, true); // another account: no matter
  deepEqual(await loginDuring(() => cli.remove("alice")), { ok: false, reason: "invalid" });
  await cli.add("alice", GOOD_PASSWORD, "admin");
  // The same name and password, but another account.
  deepEqual(
    await loginDuring(async () => {
      await cli.remove("alice");
      await cli.add("alice", GOOD_PASSWORD, "admin");
    }),
    { ok: false, reason: "invalid" },
  );
});

Deno.test("Authenticator.current() gives a logged-in user's role now, and nothing once the password changed", async () => {
  await using dir = await tempDir();
  const { auth, cli, store } = await setupRace(dir.path);
  const result = await auth.login({ username: "alice", password: GOOD_PASSWORD, ip: IP });
  if (!result.ok) throw new Error("Expected alice to log in");
  deepEqual(auth.current(result.user), result.user);
  await cli.setRole("alice", "user");
  await store.refresh();
  deepEqual(auth.current(result.user), { ...result.user, role: "user" });
  await cli.setPassword("alice", "a brand new passphrase 42");
  await store.refresh();
  equal(auth.current(result.user), undefined);
  // A user this authenticator did not let in is nobody.
  equal(auth.current({ name: "bob", role: "admin", id: store.get("bob")?.id ?? "" }), undefined);
  // A hash upgraded by the login itself is no change.
  const digest = createHash("sha256").update("legacy secret 1").digest("hex");
  await store.setHash("bob", digest);
  const bob = await auth.login({ username: "bob", password: "legacy secret 1", ip: IP });
  if (!bob.ok) throw new Error("Expected bob to log in");
  ok(store.get("bob")?.hash.startsWith("$scrypt$"));
  deepEqual(auth.current(bob.user), bob.user);
});
