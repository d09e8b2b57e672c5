import { FakeClock } from "../_fake_clock.ts";
import { deepEqual, equal, match, notEqual, ok, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  CredentialsError,
  DuplicateUserError,
  UnknownUserError,
  WeakPasswordError,
} from "../../lib/auth/errors.ts";
import { type AccountChange, CredentialStore } from "../../lib/auth/store.ts";
import { writeFileAtomic } from "../../lib/util/atomic_write.ts";
import { fixedRandom, GOOD_PASSWORD, tempDir, testHasher } from "./_helpers.ts";

const hasher = testHasher();

async function openNew(dir: string, name = "credentials.json") {
  return await CredentialStore.open(`${dir}/${name}`, {
    hasher,
    random: fixedRandom(),
  });
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("CredentialStore.open() creates a missing file with an admin and a one-time random password", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  // 15 bytes from the injected Random, base64url: 20 characters.
  const password = store.createdAdminPassword ?? "";
  equal(password, "BwgJCgsMDQ4PEBESExQV");
  deepEqual(store.list(), [{ name: "admin", role: "admin" }]);
  const admin = store.get("admin");
  ok(admin);
  equal((await hasher.verify(password, admin.hash)).ok, true);
  const stat = await Deno.stat(store.path);
  equal((stat.mode ?? 0) & 0o777, 0o600);
  const file = await readJson(store.path) as {
    version: number;
    users: Record<string, { id: string }>;
  };
  equal(file.version, 2);
  match(file.users.admin?.id ?? "", /^[A-Za-z0-9_-]{22}$/);
  equal(admin.id, file.users.admin?.id);

  const again = await openNew(dir.path);
  equal(again.createdAdminPassword, undefined);
  equal(again.get("admin")?.hash, admin.hash);
  equal(again.get("admin")?.id, admin.id);
});

Deno.test("CredentialStore.open() with createIfMissing false refuses a missing file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/credentials.json`;
  await rejects(
    CredentialStore.open(path, { hasher, createIfMissing: false }),
    (error: Error) =>
      error instanceof CredentialsError &&
      error.message === `Cannot load credentials from ${path}: file not found`,
  );
});

Deno.test("CredentialStore.open() refuses malformed files, naming the file and the problem", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/credentials.json`;
  const secretHash = "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
  const cases: [string, RegExp][] = [
    ["", /not valid JSON/],
    ["{not json", /not valid JSON/],
    ["[]", /expected a JSON object/],
    ["null", /expected a JSON object/],
    ["{}", /no users/],
    [`{"version":1,"users":{}}`, /no users/],
    [`{"version":3,"users":{"a":{"role":"user","hash":"x"}}}`, /version "3"/],
    [`{"version":2,"users":{"a":{"id":"short","role":"user","hash":"x"}}}`, /user "a": id must be/],
    [
      `{"version":2,"users":{"a":{"id":"${"A".repeat(22)}","role":"user","hash":"x"},"b":{"id":"${
        "A".repeat(22)
      }","role":"user","hash":"x"}}}`,
      /user "b": id is not unique/,
    ],
    [`{"version":1,"users":[]}`, /"users" must be an object/],
    [`{"version":1}`, /"users" must be an object/],
    [
      `{"version":1,"users":{"a":{"role":"user","hash":"x"}},"x":1}`,
      /unexpected key "x"/,
    ],
    [
      `{"version":1,"users":{"a":{"role":"root","hash":"${secretHash}"}}}`,
      /user "a": role/,
    ],
    [
      `{"version":1,"users":{"a":{"role":"user","hash":42}}}`,
      /user "a": hash must be/,
    ],
    [`{"version":1,"users":{"a":{"role":"user"}}}`, /user "a": hash must be/],
    [
      `{"version":1,"users":{"a":"${secretHash}"}}`,
      /user "a": expected an object/,
    ],
    [
      `{"version":1,"users":{"a b":{"role":"user","hash":"x"}}}`,
      /user "a b": user name/,
    ],
    [`{"alice":42}`, /user "alice": hash must be/],
    [`{"alice":""}`, /user "alice": hash must be/],
    [`{".hidden":"${"0".repeat(64)}"}`, /user ".hidden": user name/],
  ];
  for (const [text, problem] of cases) {
    await Deno.writeTextFile(path, text);
    await rejects(CredentialStore.open(path, { hasher }), (error: Error) => {
      equal(error instanceof CredentialsError, true, text);
      equal(error.name, "CredentialsError");
      ok(
        error.message.startsWith(`Cannot load credentials from ${path}: `),
        error.message,
      );
      match(error.message, problem, text);
      equal(error.message.includes(secretHash), false);
      return true;
    });
    // Refused, not replaced by a fresh file.
    equal(await Deno.readTextFile(path), text);
  }
});

Deno.test("CredentialStore reads the legacy plain map and migrates it at once, giving each account an id", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/credentials.json`;
  const digest = createHash("sha256").update("old secret 99").digest("hex");
  await Deno.writeTextFile(
    path,
    JSON.stringify({ admin: digest, bob: digest }),
  );
  const store = await CredentialStore.open(path, { hasher });
  deepEqual(store.list(), [
    { name: "admin", role: "admin" },
    { name: "bob", role: "user" },
  ]);
  equal(store.get("bob")?.hash, digest);
  const bobId = store.get("bob")?.id ?? "";
  const migrated = await readJson(path) as {
    version: number;
    users: Record<string, { id: string; role: string; hash: string }>;
  };
  equal(migrated.version, 2);
  deepEqual(migrated.users.bob, { id: bobId, role: "user", hash: digest });
  await store.add("carol", GOOD_PASSWORD);
  const file = await readJson(path) as typeof migrated;
  deepEqual(Object.keys(file.users), ["admin", "bob", "carol"]);
  equal(file.users.bob?.id, bobId);
  equal((await CredentialStore.open(path, { hasher })).get("bob")?.id, bobId);
});

Deno.test("CredentialStore gives version 1 entries ids on load, the same ids to every process", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/credentials.json`;
  const digest = createHash("sha256").update("old secret 99").digest("hex");
  await Deno.writeTextFile(
    path,
    JSON.stringify({ version: 1, users: { admin: { role: "admin", hash: digest } } }),
  );
  const [one, two] = await Promise.all([
    CredentialStore.open(path, { hasher }),
    CredentialStore.open(path, { hasher }),
  ]);
  match(one.get("admin")?.id ?? "", /^[A-Za-z0-9_-]{22}$/);
  equal(two.get("admin")?.id, one.get("admin")?.id);
  await two.refresh();
  equal(two.get("admin")?.id, one.get("admin")?.id);
});

Deno.test("CredentialStore.add() stores a hashed password with a role, mode 0600", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await store.add("alice", GOOD_PASSWORD, "admin");
  await store.add("bob", "another good one");
  deepEqual(store.list(), [
    { name: "admin", role: "admin" },
    { name: "alice", role: "admin" },
    { name: "bob", role: "user" },
  ]);
  const alice = store.get("alice");
  ok(alice);
  match(alice.hash, /^\$scrypt\$ln=10,r=8,p=1\$/);
  equal((await hasher.verify(GOOD_PASSWORD, alice.hash)).ok, true);
  equal((await Deno.readTextFile(store.path)).includes(GOOD_PASSWORD), false);
  equal(((await Deno.stat(store.path)).mode ?? 0) & 0o777, 0o600);
  const reopened = await openNew(dir.path);
  deepEqual(reopened.list(), store.list());
});

Deno.test("CredentialStore.add() refuses duplicates, ignoring case", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await store.add("alice", GOOD_PASSWORD);
  for (const name of ["alice", "ALICE", "Alice"]) {
    await rejects(store.add(name, GOOD_PASSWORD), (error: Error) => {
      equal(error instanceof DuplicateUserError, true);
      match(
        error.message,
        /^Cannot add user ".+": user (".+" )?already exists$/,
      );
      return true;
    });
  }
  equal(store.list().length, 2);
});

Deno.test("CredentialStore.add() refuses weak passwords, saying which rule", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  const cases: [string, RegExp][] = [
    ["short", /at least 10 characters/],
    ["x".repeat(1025), /at most 1024 characters/],
    ["dave-is-great", /must not contain the user name/],
  ];
  for (const [password, rule] of cases) {
    await rejects(store.add("dave", password), (error: Error) => {
      equal(error instanceof WeakPasswordError, true);
      equal(error.name, "WeakPasswordError");
      match(error.message, rule);
      equal(error.message.includes(password), false);
      return true;
    });
  }
  equal(store.get("dave"), undefined);
});

Deno.test("CredentialStore.add() refuses bad names and roles", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await rejects(store.add(".dave", GOOD_PASSWORD), TypeError);
  await rejects(store.add("a".repeat(33), GOOD_PASSWORD), TypeError);
  await rejects(
    store.add("dave", GOOD_PASSWORD, "root" as "user"),
    /unknown role "root"/,
  );
});

Deno.test("CredentialStore.remove() removes a user and refuses unknown or last users", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await store.add("alice", GOOD_PASSWORD);
  await store.remove("alice");
  equal(store.get("alice"), undefined);
  equal((await openNew(dir.path)).get("alice"), undefined);
  await rejects(store.remove("alice"), (error: Error) => {
    equal(error instanceof UnknownUserError, true);
    equal(error.message, `Cannot remove user "alice": no such user`);
    return true;
  });
  await rejects(store.remove("admin"), RangeError);
  deepEqual(store.list(), [{ name: "admin", role: "admin" }]);
});

Deno.test("CredentialStore.setPassword() replaces the hash and checks the rules", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await store.add("alice", GOOD_PASSWORD);
  await store.setPassword("alice", "a new passphrase");
  const hash = store.get("alice")?.hash ?? "";
  equal((await hasher.verify("a new passphrase", hash)).ok, true);
  equal((await hasher.verify(GOOD_PASSWORD, hash)).ok, false);
  await rejects(store.setPassword("alice", "short"), WeakPasswordError);
  await rejects(store.setPassword("zed", GOOD_PASSWORD), UnknownUserError);
});

Deno.test("CredentialStore.setHash() with ifHash does not undo a password changed meanwhile", async () => {
  await using dir = await tempDir();
  const server = await openNew(dir.path);
  const cli = await openNew(dir.path);
  await server.add("alice", GOOD_PASSWORD);
  const verified = server.get("alice")?.hash ?? "";
  await cli.refresh();
  await cli.setPassword("alice", "changed by admin");
  const changed = cli.get("alice")?.hash;
  equal(
    await server.setHash("alice", "$scrypt$upgraded", { ifHash: verified }),
    false,
  );
  equal(server.get("alice")?.hash, changed);
  equal(
    await server.setHash("alice", "$scrypt$upgraded", {
      ifHash: changed ?? "",
    }),
    true,
  );
  equal(server.get("alice")?.hash, "$scrypt$upgraded");
  await rejects(server.setHash("zed", "x"), UnknownUserError);
});

Deno.test("CredentialStore.refresh() sees a change made by another writer", async () => {
  await using dir = await tempDir();
  const server = await openNew(dir.path);
  const cli = await openNew(dir.path);
  equal(await server.refresh(), false);
  await cli.add("alice", GOOD_PASSWORD);
  equal(server.get("alice"), undefined);
  equal(await server.refresh(), true);
  equal(server.get("alice")?.role, "user");
  equal(await server.refresh(), false);
  await cli.remove("alice");
  await server.refresh();
  equal(server.get("alice"), undefined);
});

Deno.test("CredentialStore.refresh() keeps the last good users when the file breaks", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await Deno.writeTextFile(store.path, "{broken");
  await rejects(store.refresh(), CredentialsError);
  notEqual(store.get("admin"), undefined);
  await Deno.remove(store.path);
  await rejects(store.refresh(), /file not found/);
});

Deno.test("CredentialStore instances writing at once lose no change", async () => {
  await using dir = await tempDir();
  await openNew(dir.path);
  const stores = await Promise.all([1, 2, 3].map(() => openNew(dir.path)));
  await Promise.all(
    stores.flatMap((store, s) =>
      [0, 1, 2, 3, 4].map((i) => store.add(`u${s}x${i}`, GOOD_PASSWORD))
    ),
  );
  const final = await openNew(dir.path);
  equal(final.list().length, 1 + 15);
});

Deno.test("CredentialStore breaks a lock left by a dead process", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  // A pid that has certainly exited: a child we waited for.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["--version"],
    stdout: "null",
  }).spawn();
  await child.status;
  await Deno.writeTextFile(
    `${store.path}.lock`,
    JSON.stringify({ pid: child.pid, created: Date.now() }),
  );
  await store.add("alice", GOOD_PASSWORD);
  equal(store.get("alice")?.role, "user");
  await rejects(Deno.stat(`${store.path}.lock`), Deno.errors.NotFound);
});

Deno.test("CredentialStore waits on a lock whose owner lives, and breaks it past the stale age", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const path = `${dir.path}/credentials.json`;
  await openNew(dir.path);
  const store = await CredentialStore.open(path, {
    hasher,
    clock,
    lockTimeoutMs: 20,
  });
  // A live owner keeps the lock file flocked.
  const lockPath = `${path}.lock`;
  const content = (created: number) => JSON.stringify({ pid: 1, created });
  await Deno.writeTextFile(lockPath, content(clock.now()));
  using owner = await Deno.open(lockPath, { read: true });
  equal(await owner.tryLock(true), true);
  await rejects(clock.runUntilSettled(store.add("alice", GOOD_PASSWORD)), (error: Error) => {
    equal(error instanceof Deno.errors.TimedOut, true);
    match(
      error.message,
      /^Cannot lock .*credentials\.json\.lock: held by pid 1 for over 20 ms$/,
    );
    return true;
  });
  equal(store.get("alice"), undefined);
  await Deno.writeTextFile(lockPath, content(clock.now() - 31_000));
  await store.add("alice", GOOD_PASSWORD);
  equal(store.get("alice")?.role, "user");
});

Deno.test("CredentialStore.refresh() reports what another writer changed, without hashes", async () => {
  await using dir = await tempDir();
  const seen: AccountChange[][] = [];
  const server = await CredentialStore.open(`${dir.path}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    onExternalChange: (changes) => seen.push(changes),
  });
  const admin = server.get("admin")?.id;
  const cli = await openNew(dir.path);
  await cli.add("alice", GOOD_PASSWORD);
  await server.refresh();
  await cli.setPassword("alice", "another good one 9");
  await cli.remove("admin");
  await server.refresh();
  await server.setHash("alice", "$scrypt$own-write"); // the server's own write is not reported
  const alice = cli.get("alice")?.id;
  deepEqual(seen, [
    [{ user: "alice", id: alice, change: "added", role: "user" }],
    [
      { user: "alice", id: alice, change: "password", role: "user" },
      { user: "admin", id: admin, change: "removed", role: "admin" },
    ],
  ]);
});

Deno.test("CredentialStore.add() refuses reserved names and names that look like an existing one", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await store.add("alice", GOOD_PASSWORD);
  for (const name of ["operator", "JokeBot", "server", "0perator", "jokebot."]) {
    await rejects(store.add(name, GOOD_PASSWORD), (error: Error) => {
      equal(error instanceof TypeError, true, name);
      equal(error.message, `Cannot add user "${name}": the name is reserved`);
      return true;
    });
  }
  for (const name of ["aIice", "a1ice", "alice.", "ALICE", "adm1n", "aclmin"]) {
    await rejects(store.add(name, GOOD_PASSWORD), (error: Error) => {
      equal(error instanceof DuplicateUserError, true, name);
      match(
        error.message,
        /^Cannot add user ".+": (it looks like the existing user|user) "(alice|admin)"/,
      );
      return true;
    });
  }
  deepEqual(store.list().map((u) => u.name), ["admin", "alice"]);
});

Deno.test("CredentialStore: a name removed and added again is a new account with a new id", async () => {
  await using dir = await tempDir();
  const store = await openNew(dir.path);
  await store.add("erin", GOOD_PASSWORD);
  const first = store.get("erin")?.id;
  await store.remove("erin");
  await store.add("ERIN", GOOD_PASSWORD);
  ok(first);
  notEqual(store.get("ERIN")?.id, first);
});

Deno.test("CredentialStore onChange reports the store's own changes and other writers', but not hash upgrades", async () => {
  await using dir = await tempDir();
  const seen: string[] = [];
  const server = await CredentialStore.open(`${dir.path}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    onChange: (changes) => seen.push(...changes.map((c) => `${c.user} ${c.change} ${c.role}`)),
  });
  await server.add("alice", GOOD_PASSWORD, "admin");
  equal(await server.setRole("alice", "user"), true);
  equal(await server.setRole("alice", "user"), false);
  await server.setPassword("alice", "another good one 9");
  await server.setHash("alice", "$scrypt$upgrade");
  const cli = await openNew(dir.path);
  await cli.setRole("alice", "admin");
  await server.refresh();
  await cli.remove("alice");
  await server.refresh();
  deepEqual(seen, [
    "alice added admin",
    "alice role user",
    "alice password user",
    "alice role admin",
    "alice removed admin",
  ]);
  await rejects(server.setRole("nobody", "admin"), UnknownUserError);
});

Deno.test("CredentialStore.find() looks names up ignoring case, every match of an older file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/credentials.json`;
  const hash = await hasher.hash(GOOD_PASSWORD);
  const users = {
    Alice: { id: "A".repeat(22), role: "user", hash },
    alice: { id: "B".repeat(22), role: "admin", hash },
    bob: { id: "C".repeat(22), role: "user", hash },
  };
  await Deno.writeTextFile(path, JSON.stringify({ version: 2, users }));
  const store = await CredentialStore.open(path, { hasher, createIfMissing: false });
  deepEqual(store.find("ALICE").map((u) => [u.name, u.role]), [
    ["Alice", "user"],
    ["alice", "admin"],
  ]);
  deepEqual(store.find("Bob").map((u) => u.id), ["C".repeat(22)]);
  deepEqual(store.find("carol"), []);
  equal(store.get("ALICE"), undefined); // get() stays exact
});

/** A writer that fails like a full disk while `full` is set, and can hold
 * a write until `release()` (`writing` settles when one is held). */
function testDisk() {
  const disk = {
    full: false,
    hold: false,
    writing: Promise.withResolvers<void>(),
    gate: Promise.withResolvers<void>(),
    release: () => disk.gate.resolve(),
    write: async (path: string, text: string) => {
      if (disk.full) throw new Error("No space left on device (os error 28)");
      if (disk.hold) {
        disk.writing.resolve();
        await disk.gate.promise;
      }
      await writeFileAtomic(path, text);
    },
  };
  return disk;
}

/** The server's store on `dir`, writing through a {@linkcode testDisk}, with every change it reports. */
async function serverOnTestDisk(dir: string) {
  const seen: string[] = [];
  const disk = testDisk();
  const server = await CredentialStore.open(`${dir}/credentials.json`, {
    hasher,
    random: fixedRandom(),
    writeFile: disk.write,
    onChange: (changes) => seen.push(...changes.map((c) => `${c.user} ${c.change} ${c.role}`)),
  });
  return { server, disk, seen };
}

Deno.test("CredentialStore: a change whose write fails leaves the cache as on disk and reports only other writers' changes", async () => {
  await using dir = await tempDir();
  const { server, disk, seen } = await serverOnTestDisk(dir.path);
  await server.add("alice", GOOD_PASSWORD, "admin");
  const cli = await openNew(dir.path);
  await cli.add("dave", GOOD_PASSWORD);
  disk.full = true;
  await rejects(server.add("carol", GOOD_PASSWORD), /No space left/);
  equal(server.get("carol"), undefined);
  await rejects(server.setRole("alice", "user"), /No space left/);
  equal(server.get("alice")?.role, "admin");
  await rejects(server.remove("alice"), /No space left/);
  equal(server.get("alice")?.role, "admin");
  equal(server.get("dave")?.role, "user"); // read from disk on the way
  equal(await server.refresh(), true); // the file is not what this store wrote last
  disk.full = false;
  await server.add("carol", GOOD_PASSWORD);
  deepEqual(seen, ["alice added admin", "dave added user", "carol added user"]);
  deepEqual(cli.list().map((u) => u.name), ["admin", "alice", "dave"]);
  await cli.refresh();
  deepEqual(cli.list().map((u) => u.name), ["admin", "alice", "carol", "dave"]);
});

Deno.test("CredentialStore: a refresh while a change is being written reports another writer's change once and keeps the change", async () => {
  await using dir = await tempDir();
  const { server, disk, seen } = await serverOnTestDisk(dir.path);
  await server.add("alice", GOOD_PASSWORD);
  const cli = await openNew(dir.path);
  await cli.setRole("alice", "admin");
  disk.hold = true;
  const adding = server.add("carol", GOOD_PASSWORD);
  await disk.writing.promise; // carol's change is applied, its write held
  const refreshing = server.refresh();
  disk.release();
  await adding;
  await refreshing;
  deepEqual(seen, ["alice added user", "alice role admin", "carol added user"]);
  equal(server.get("carol")?.role, "user");
  equal(server.get("alice")?.role, "admin");
  equal(await server.refresh(), false);
  deepEqual(server.list().map((u) => u.name), ["admin", "alice", "carol"]);
});
