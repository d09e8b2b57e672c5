/**
 * The account rules that involve real processes: the server process on a
 * broken or missing credentials file, and the admin CLI (`scripts/user.ts`)
 * changing accounts while a server runs.
 *
 * @module
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { withFileLock } from "../../lib/auth/_file_lock.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { tempDir, TestClient, within } from "../_helpers.ts";
import { PROCESS_MS, spawnServerProcess, startCli } from "../_process.ts";
import { passwordOf, startTestServer, type TestServer, writeTestCerts } from "../_server.ts";
import { byeOf, presenceOf, roomFrame } from "./_frames.ts";

const WRONG = "not the password at all";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the admin CLI as a process on the files of `s`, with `stdin` as its input. */
async function userCli(s: TestServer, args: string[], stdin = ""): Promise<CliResult> {
  const { result } = startCli(s.dir, args, stdin);
  const { code, stdout, stderr } = await within(result, PROCESS_MS, "the CLI to exit");
  return { code, stdout, stderr };
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

async function readUsers(
  path: string,
): Promise<Record<string, { role: string; hash: string }>> {
  return JSON.parse(await Deno.readTextFile(path)).users;
}

async function loginAnswer(port: number, user: string, password: string): Promise<ServerFrame> {
  await using client = await TestClient.connect(port);
  return await client.login(user, password);
}

/** Resolves at the first event in `watcher` that `match` accepts. */
async function nextEvent(
  watcher: Deno.FsWatcher,
  match: (event: Deno.FsEvent) => boolean,
): Promise<void> {
  const events = watcher[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw new Error("The watcher closed before the expected event");
    if (match(value)) return;
  }
}

Deno.test("the server process refuses a corrupt credentials file: exit 1, the file named, nothing listening", async () => {
  await using dir = await tempDir();
  await writeTestCerts(dir.path);
  const path = join(dir.path, "credentials.json");
  const corrupt = '{"version":1,"users":{"alice":';
  await Deno.writeTextFile(path, corrupt);
  await using server = spawnServerProcess(dir.path);
  const status = await within(server.status, PROCESS_MS, "the server to exit");
  await Promise.all([server.stdout.done, server.stderr.done]);
  equal(status.code, 1, server.stderr.text);
  const lines = server.stderr.text.split("\n");
  ok(
    lines.includes(`banter: Cannot load credentials from ${path}: not valid JSON`),
    server.stderr.text,
  );
  ok(!/Listening on/.test(server.stderr.text), "it never listened");
  equal(server.stdout.text, "", "no admin was created");
  equal(await Deno.readTextFile(path), corrupt, "the file is left as it was");
});

Deno.test("the server process creates a missing credentials file with an admin whose one-time password works", async () => {
  await using dir = await tempDir();
  await writeTestCerts(dir.path);
  const path = join(dir.path, "credentials.json");
  let password: string;
  {
    await using server = spawnServerProcess(dir.path);
    const port = await server.listening();
    const announced = await server.stdout.waitFor(
      /Created (.+) with user "admin", password: ([A-Za-z0-9_-]{20}) \(shown once; change it with: (.+)\)\n/,
      PROCESS_MS,
    );
    equal(announced[1], path);
    // The server ran on --credentials elsewhere: the hint names that file.
    equal(announced[3], `deno task user passwd admin --credentials ${path}`);
    password = announced[2]!;
    deepEqual(await loginAnswer(port, "admin", password), {
      type: "welcome",
      user: "admin",
      role: "admin",
    });
    equal((await server.stop()).code, 0, server.stderr.text);
    equal(server.stdout.text.split(password).length, 2, "the password is printed once");
    ok(!server.stderr.text.includes(password), "the password is not logged");
  }
  await using again = spawnServerProcess(dir.path);
  const port = await again.listening();
  equal((await loginAnswer(port, "admin", password)).type, "welcome", "after a restart too");
  equal((await again.stop()).code, 0, again.stderr.text);
  ok(!again.stdout.text.includes("Created"), again.stdout.text);
  ok(!again.stdout.text.includes(password) && !again.stderr.text.includes(password));
});

Deno.test("a user added with the CLI while the server runs can log in without a restart", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await s.login("alice");
  const added = await userCli(s, ["add", "bob"], `${passwordOf("bob")}\n`);
  deepEqual(added, { code: 0, stdout: 'Added user "bob" (user)\n', stderr: "" });
  await using bob = await s.login("bob");
  equal((await alice.until(presenceOf("join", "bob"))).room, "lobby");
  deepEqual((await bob.until(roomFrame("lobby"))).members, ["alice", "bob"]);
});

Deno.test("a login that upgrades a hash while the CLI adds a user keeps both changes", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "credentials.json");
  const legacy = sha256Hex(passwordOf("alice"));
  await Deno.writeTextFile(
    path,
    JSON.stringify({ version: 1, users: { alice: { role: "user", hash: legacy } } }),
  );
  await using s = await startTestServer({ dir: dir.path });

  // Hold the credentials lock so that both writers queue on it.
  const acquired = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const held = withFileLock(`${path}.lock`, () => {
    acquired.resolve();
    return release.promise;
  });
  await acquired.promise;
  const deno = Deno as unknown as { link: typeof Deno.link };
  const link = deno.link;
  let cli: Promise<CliResult> | undefined;
  let login: Promise<ServerFrame> | undefined;
  try {
    // The CLI, a separate process, is waiting once it tries to take the lock.
    const attempt = /credentials\.json\.lock\.[0-9a-f]{8}\.tmp$/;
    {
      using watcher = Deno.watchFs(dir.path, { recursive: false });
      const cliWaiting = nextEvent(
        watcher,
        (e) => e.kind === "create" && e.paths.some((p) => attempt.test(p)),
      );
      cli = userCli(s, ["add", "bob"], `${passwordOf("bob")}\n`);
      await within(cliWaiting, PROCESS_MS, "the CLI to wait for the lock");
    }
    // The server, in this process, is waiting once it tries to link the lock.
    const serverWaiting = Promise.withResolvers<void>();
    deno.link = (from, to) => {
      if (to === `${path}.lock`) serverWaiting.resolve();
      return link(from, to);
    };
    login = loginAnswer(s.port, "alice", passwordOf("alice"));
    await within(serverWaiting.promise, 5000, "the server to wait for the lock");
  } finally {
    deno.link = link;
    release.resolve();
    await held;
  }
  deepEqual(await login, { type: "welcome", user: "alice", role: "user" });
  deepEqual(await cli, { code: 0, stdout: 'Added user "bob" (user)\n', stderr: "" });

  const users = await readUsers(path);
  deepEqual(Object.keys(users), ["alice", "bob"], "the CLI's user is kept");
  match(users.alice?.hash ?? "", /^\$scrypt\$/, "the upgrade is kept");
  match(users.bob?.hash ?? "", /^\$scrypt\$ln=17,/);
  for (const user of ["alice", "bob"]) {
    equal((await loginAnswer(s.port, user, passwordOf(user))).type, "welcome", user);
  }
});

Deno.test("unlock with the CLI lets a locked user in", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  {
    await using client = await s.client();
    await client.login("alice", WRONG);
    for (let i = 0; i < 2; i++) {
      await client.send({ type: "login", username: "alice", password: WRONG });
    }
    equal((await byeOf(client))?.type, "bye");
  }
  const locked = await loginAnswer(s.port, "alice", passwordOf("alice"));
  equal(locked.type === "auth_failed" && locked.reason, "locked");

  const unlocked = await userCli(s, ["unlock", "alice"]);
  deepEqual([unlocked.code, unlocked.stderr], [0, ""]);
  match(
    unlocked.stdout,
    /^Unlocked "alice" from 127\.0\.0\.1 \((\d+ s|1 min) were left\)\nCleared the slow-down of "alice"\n$/,
  );
  deepEqual(await loginAnswer(s.port, "alice", passwordOf("alice")), {
    type: "welcome",
    user: "alice",
    role: "user",
  });
});

/** The activity file once `match` accepts what it holds, watched, not polled. */
async function activityWhen(
  s: TestServer,
  match: (activity: { online: Record<string, number> }) => boolean,
): Promise<void> {
  const path = join(s.config.data, "activity.json");
  using watcher = Deno.watchFs(s.config.data);
  const read = async () => {
    try {
      return match(JSON.parse(await Deno.readTextFile(path)));
    } catch (error) {
      // Not written yet; a rename is atomic, so a read is never partial.
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  };
  if (await read()) return;
  const events = watcher[Symbol.asyncIterator]();
  for (;;) {
    const { done } = await within(events.next(), PROCESS_MS, "a write of activity.json");
    if (done) throw new Error("The watcher closed before activity.json changed");
    if (await read()) return;
  }
}

Deno.test("user list shows who the running server has online and when they last logged in", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  {
    await using alice = await s.login("alice");
    await alice.until(roomFrame("lobby"));
    await activityWhen(s, (a) => (a.online["alice"] ?? 0) >= 1);
    const list = await userCli(s, ["list"]);
    equal(list.code, 0, list.stderr);
    const rows = list.stdout.split("\n").map((line) => line.split(/ {2,}/));
    deepEqual(rows[0], ["NAME", "ROLE", "LOCK", "LAST LOGIN", "ONLINE"]);
    const alices = rows.find((row) => row[0] === "alice");
    match(alices?.[3] ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    equal(alices?.[4], "1");
    deepEqual(rows.find((row) => row[0] === "bob")?.slice(3), ["never", "0"]);
  }
  await activityWhen(s, (a) => a.online["alice"] === undefined);
  const after = await userCli(s, ["list"]);
  const alice = after.stdout.split("\n").find((line) => line.startsWith("alice"));
  match(alice ?? "", /UTC {2}0$/);
  await s.stop();
  const stopped = await userCli(s, ["list"]);
  match(stopped.stdout, /^alice .* \?$/m);
  match(stopped.stdout, /server not running/);
});
