import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hasher } from "../../lib/auth/hash.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { TestClient, within } from "../_helpers.ts";
import { passwordOf, TEST_SCRYPT_LOG_N, writeTestCerts } from "../_server.ts";
import { byeOf, messageWith, presenceOf } from "./_frames.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** Bound on start-up (a fresh `deno run`) and on exit. */
const START_MS = 20_000;
const EXIT_MS = 5_000;

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
  async waitFor(pattern: RegExp, ms = 5000): Promise<RegExpMatchArray> {
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

/** The real server process with the console on, in a temp dir. */
interface ServerProcess extends AsyncDisposable {
  port: number;
  stdout: Output;
  stderr: Output;
  status: Promise<Deno.CommandStatus>;
  /** Type a line on the operator console. */
  type(line: string): Promise<void>;
  kill(signal: Deno.Signal): void;
}

async function startServerProcess(users: string[]): Promise<ServerProcess> {
  const dir = await Deno.makeTempDir({ prefix: "banter-e2e-" });
  await writeTestCerts(dir);
  const hasher = new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } });
  const store = await CredentialStore.open(join(dir, "credentials.json"), { hasher });
  for (const user of users) await store.add(user, passwordOf(user), "user");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,localhost",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "server.ts",
      "--port=0",
      "--console=on",
      `--certs-dir=${join(dir, "certs")}`,
      `--credentials=${join(dir, "credentials.json")}`,
      `--data=${join(dir, "data")}`,
      `--scrypt-log-n=${TEST_SCRYPT_LOG_N}`,
      "--joke-url=http://127.0.0.1:9/jokes/random",
    ],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);
  const dispose = async () => {
    if (!exited) child.kill("SIGKILL");
    await status;
    await stdin.close().catch(() => undefined);
    await Promise.all([stdout.done, stderr.done]);
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const [, port] = await stderr.waitFor(/Listening on .*:(\d+)/, START_MS);
    return {
      port: Number(port),
      stdout,
      stderr,
      status,
      type: (line) => stdin.write(new TextEncoder().encode(line + "\n")),
      kill: (signal) => child.kill(signal),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function login(port: number, user: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const answer = await client.login(user, passwordOf(user));
  if (answer.type !== "welcome") {
    await client[Symbol.asyncDispose]();
    throw new Error(`Login of ${user} failed: ${JSON.stringify(answer)}`);
  }
  return client;
}

Deno.test("the operator sees what clients say, and clients see what the operator types", async () => {
  await using server = await startServerProcess(["alice"]);
  await using alice = await login(server.port, "alice");
  const room = await alice.until((f) => f.type === "room");
  ok(room.type === "room");
  deepEqual(room.members, ["alice", "operator"]);
  await server.stdout.waitFor(/-- alice joined #lobby/);

  await alice.send({ type: "say", text: "hello operator" });
  await server.stdout.waitFor(/<alice> hello operator/);

  await server.type("hello alice, this is the console");
  const said = await alice.until(messageWith("hello alice, this is the console"));
  equal(said.from, "operator");
});

Deno.test("the operator's /kick closes the user with bye kicked", async () => {
  await using server = await startServerProcess(["alice", "bob"]);
  await using alice = await login(server.port, "alice");
  await using bob = await login(server.port, "bob");
  await server.type("/kick alice");
  deepEqual(await byeOf(alice), { type: "bye", code: "kicked", message: "Kicked by operator" });
  equal((await bob.until(presenceOf("leave", "alice"))).reason, "kicked");
  await server.stdout.waitFor(/Kicked alice/);
});

Deno.test("the operator's /shutdown says bye shutdown to clients and the process exits 0", async () => {
  await using server = await startServerProcess(["alice", "bob"]);
  await using alice = await login(server.port, "alice");
  await using bob = await login(server.port, "bob");
  await server.type("/shutdown");
  for (const client of [alice, bob]) {
    deepEqual(await byeOf(client), {
      type: "bye",
      code: "shutdown",
      message: "Server shutting down (requested by operator)",
    });
  }
  const status = await within(server.status, EXIT_MS, "the server to exit");
  equal(status.code, 0, server.stderr.text);
  ok(!/\[(ERR|FTL)\]/.test(server.stderr.text), server.stderr.text);
});

Deno.test("SIGTERM says bye shutdown to clients and the process exits 0", async () => {
  await using server = await startServerProcess(["alice"]);
  // Logged in means main() has installed its signal listeners.
  await using alice = await login(server.port, "alice");
  server.kill("SIGTERM");
  const bye = await byeOf(alice);
  ok(bye?.type === "bye");
  equal(bye.code, "shutdown");
  const status = await within(server.status, EXIT_MS, "the server to exit");
  deepEqual([status.code, status.signal], [0, null], server.stderr.text);
  match(server.stdout.text, /console closed/);
  ok(!/\[(ERR|FTL)\]/.test(server.stderr.text), server.stderr.text);
});
