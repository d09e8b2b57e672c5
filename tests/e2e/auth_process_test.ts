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
import { fileURLToPath } from "node:url";
import { withFileLock } from "../../lib/auth/_file_lock.ts";
import type { ServerFrame } from "../../lib/protocol.ts";
import { tempDir, TestClient, within } from "../_helpers.ts";
import {
  passwordOf,
  startTestServer,
  TEST_SCRYPT_LOG_N,
  type TestServer,
  writeTestCerts,
} from "../_server.ts";
import { byeOf, presenceOf, roomFrame } from "./_frames.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** Bound on a fresh `deno run` starting, and on a process ending. */
const PROCESS_MS = 20_000;
const WRONG = "not the password at all";

/** Accumulates a child's output and waits for patterns in it. */
class Output {
  #text = "";
  #ended = false;
  #waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        for (const wake of this.#waiters) wake();
      }
      this.#ended = true;
      for (const wake of this.#waiters) wake();
    })();
  }

  get text(): string {
    return this.#text;
  }

  /** Wait until the output matches `pattern`; the match is returned. */
  async waitFor(pattern: RegExp, ms = PROCESS_MS): Promise<RegExpMatchArray> {
    const found = Promise.withResolvers<RegExpMatchArray>();
    const check = () => {
      const m = this.#text.match(pattern);
      if (m) found.resolve(m);
      else if (this.#ended) found.reject(new Error(`Output ended without ${pattern}`));
    };
    this.#waiters.add(check);
    try {
      check();
      return await within(found.promise, ms, `${pattern} in ${JSON.stringify(this.#text)}`);
    } finally {
      this.#waiters.delete(check);
    }
  }
}

/** The real server process (console off) on the files in `dir`. */
interface ServerProcess extends AsyncDisposable {
  stdout: Output;
  stderr: Output;
  /** The exit status, once the process has ended. */
  status: Promise<Deno.CommandStatus>;
  /** The port from the "Listening on" log line. */
  port(): Promise<number>;
  /** SIGTERM, then the exit status with all output read. */
  stop(): Promise<Deno.CommandStatus>;
}

function spawnServer(dir: string): ServerProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,localhost",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "server.ts",
      "--port=0",
      "--console=off",
      `--certs-dir=${join(dir, "certs")}`,
      `--credentials=${join(dir, "credentials.json")}`,
      `--data=${join(dir, "data")}`,
      `--scrypt-log-n=${TEST_SCRYPT_LOG_N}`,
      "--joke-url=http://127.0.0.1:9/jokes/random",
    ],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    const result = await within(status, PROCESS_MS, "the server to exit");
    await Promise.all([stdout.done, stderr.done]);
    return result;
  };
  return {
    stdout,
    stderr,
    status,
    port: async () => Number((await stderr.waitFor(/Listening on .*:(\d+)/))[1]),
    stop,
    [Symbol.asyncDispose]: async () => {
      if (!exited) child.kill("SIGKILL");
      await status;
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the admin CLI as a process, with `stdin` as its input. */
async function userCli(args: string[], stdin = ""): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "scripts/user.ts", ...args],
    cwd: REPO,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await within(child.output(), PROCESS_MS, "the CLI to exit");
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

function fileArgs(s: TestServer): string[] {
  return ["--credentials", join(s.dir, "credentials.json"), "--data", s.config.data];
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
  await using server = spawnServer(dir.path);
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
    await using server = spawnServer(dir.path);
    const port = await server.port();
    const announced = await server.stdout.waitFor(
      /Created (.+) with user "admin", password: ([A-Za-z0-9_-]{20}) \(shown once/,
    );
    equal(announced[1], path);
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
  await using again = spawnServer(dir.path);
  const port = await again.port();
  equal((await loginAnswer(port, "admin", password)).type, "welcome", "after a restart too");
  equal((await again.stop()).code, 0, again.stderr.text);
  ok(!again.stdout.text.includes("Created"), again.stdout.text);
  ok(!again.stdout.text.includes(password) && !again.stderr.text.includes(password));
});

Deno.test("a user added with the CLI while the server runs can log in without a restart", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await s.login("alice");
  const added = await userCli(["add", "bob", ...fileArgs(s)], `${passwordOf("bob")}\n`);
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
      cli = userCli(["add", "bob", ...fileArgs(s)], `${passwordOf("bob")}\n`);
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

  const unlocked = await userCli(["unlock", "alice", ...fileArgs(s)]);
  deepEqual(unlocked, { code: 0, stdout: 'Unlocked "alice"\n', stderr: "" });
  deepEqual(await loginAnswer(s.port, "alice", passwordOf("alice")), {
    type: "welcome",
    user: "alice",
    role: "user",
  });
});
