/**
 * Crash safety: SIGKILL the real server process while users chat, logins
 * fail and the admin CLI writes accounts; after each restart no account,
 * lockout or acknowledged message is lost or corrupted.
 *
 * "Acknowledged" means what a client or the admin was told: a message
 * echoed back to its sender, an `auth_failed` answer, a CLI exit status 0.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Hasher } from "../../lib/auth/hash.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { tempDir, TestClient } from "../_helpers.ts";
import { loginAs, passwordOf, TEST_SCRYPT_LOG_N, writeServerFiles } from "../_server.ts";
import { paced } from "./_attack.ts";
import { type ServerProcess, startCli, startServerProcess } from "../_process.ts";

/** Server flags: no rate limit in the way, all history on entering, and a
 * hash cost above the stored one, so every login also rewrites credentials.json. */
const SERVER_ARGS = [
  "--rate-burst=100000",
  "--rate-per-second=100000",
  "--history-limit=1000",
  `--scrypt-log-n=${TEST_SCRYPT_LOG_N + 1}`,
];
const CHATTERS = ["alice", "bob"];

const hasher = new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } });

/** What must survive. */
interface Acked {
  /** Message text -> id, as echoed to the sender. */
  messages: Map<string, number>;
  /** Users the CLI said it added, with their passwords. */
  users: Map<string, string>;
}

/**
 * Chat as `client` until the connection dies: batches of messages, each
 * batch's echoes awaited; every echo is recorded as acknowledged.
 */
async function chat(
  client: TestClient,
  name: string,
  round: number,
  acked: Acked,
  killed: Promise<void>,
  onAck: () => void,
) {
  let stop = false;
  killed.then(() => stop = true);
  // Bounded: the kill comes first; this is a backstop.
  for (let sent = 0; sent < 3_000 && !stop;) {
    const batch: string[] = [];
    for (let i = 0; i < 10; i++) batch.push(`${name} r${round} #${sent++}`);
    try {
      for (const text of batch) await client.send({ type: "say", text });
      let waiting = batch.length;
      while (waiting > 0) {
        const frame = await client.next(10_000);
        if (frame === undefined) return;
        if (frame.type === "message" && frame.from === name) {
          acked.messages.set(frame.text, frame.id);
          waiting--;
          onAck();
        }
      }
      // People type at a human pace: a batch every 20 ms (pacing, not waiting).
      await paced(killed, 20);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("Timed out")) throw error;
      return; // the server is gone
    }
  }
}

/** Open the files of a dead server and check that everything acknowledged is there. */
async function checkFiles(dir: string, acked: Acked, failures: ReadonlyArray<[string, number]>) {
  const store = await CredentialStore.open(join(dir, "credentials.json"), {
    hasher,
    createIfMissing: false,
  });
  for (const user of [...CHATTERS, ...acked.users.keys()]) {
    ok(store.get(user), `account ${user} survived`);
  }
  const lockoutPath = join(dir, "data", "lockout.json");
  const lockout = await Lockout.open(lockoutPath); // throws on a torn or invalid file
  const { accounts } = JSON.parse(await Deno.readTextFile(lockoutPath));
  for (const [account, count] of failures) {
    // ACCOUNT_LOCKOUT: the third failure locks the account from the failing
    // address (the test's 127.0.0.1), and the count restarts.
    if (count >= 3) ok(lockout.status(account, "127.0.0.1").locked, `${account}'s lock survived`);
    else ok(accounts[account]?.failures >= count, `${account}'s ${count} failures survived`);
  }
  const db = new DatabaseSync(join(dir, "data", "history.db"));
  try {
    deepEqual(db.prepare("PRAGMA integrity_check").all(), [{ integrity_check: "ok" }]);
    const stored = new Map<string, number>();
    for (const row of db.prepare("SELECT id, text FROM messages").all()) {
      stored.set(String(row["text"]), Number(row["id"]));
    }
    for (const [text, id] of acked.messages) {
      equal(stored.get(text), id, `message "${text}" survived`);
    }
  } finally {
    db.close();
  }
}

/** A connection that has sent hello and is asked for a login. */
async function awaitingLogin(port: number): Promise<TestClient> {
  const c = await TestClient.connect(port);
  await c.send({ type: "hello", version: 1 });
  await c.until((f) => f.type === "auth");
  return c;
}

/** Wrong passwords on one connection; each `auth_failed` acknowledges a recorded failure. */
async function failLogins(port: number, user: string, times: number): Promise<void> {
  await using c = await awaitingLogin(port);
  for (let i = 0; i < times; i++) {
    await c.send({ type: "login", username: user, password: `wrong password ${i}` });
    const answer = await c.until((f) => f.type === "auth_failed");
    equal(answer.type === "auth_failed" && answer.reason, "invalid");
  }
}

/** Resolves when `name` is created in `dir`, or when `until` settles. */
async function created(dir: string, name: string, until: Promise<unknown>): Promise<void> {
  using watcher = Deno.watchFs(dir, { recursive: false });
  const seen = (async () => {
    for await (const event of watcher) {
      if (event.kind === "create" && event.paths.some((p) => p.endsWith(`/${name}`))) return;
    }
  })();
  await Promise.race([seen, until]);
}

/** How a round ends. */
type KillPlan =
  /** SIGKILL the server as soon as the CLI has written and exited. */
  | "server when the CLI is done"
  /** SIGKILL the server and the CLI the moment the CLI takes the lock. */
  | "both when the CLI locks";

/**
 * One round: start the admin CLI, log in (with a hash upgrade, i.e. a
 * write), fail logins, leave a failed login in flight, chat, SIGKILL.
 */
async function chatAndKill(
  dir: string,
  server: ServerProcess,
  round: number,
  acked: Acked,
  plan: { failing: [string, number]; kill: KillPlan },
): Promise<void> {
  const newUser = `carol${round}`;
  const newPassword = `amber kettle ${round} 42`;
  const cli = startCli(dir, ["add", newUser], newPassword + "\n");
  const killCli = plan.kill === "both when the CLI locks";
  const lockTaken = killCli ? created(dir, "credentials.json.lock", cli.result) : undefined;
  const clients = await Promise.all(CHATTERS.map((u) => loginAs(server.port, u)));
  const inFlight = await awaitingLogin(server.port);
  try {
    await failLogins(server.port, ...plan.failing);
    const killed = Promise.withResolvers<void>();
    let done = false;
    const kill = () => {
      if (done) return;
      done = true;
      // A failed login still in flight: it may or may not be counted.
      inFlight.send({ type: "login", username: "victim2", password: "wrong" }).catch(() =>
        undefined
      );
      server.kill("SIGKILL");
      if (killCli) cli.child.kill("SIGKILL");
      killed.resolve();
    };
    let acks = 0;
    const chatting = Promise.all(
      clients.map((c, i) =>
        chat(c, CHATTERS[i]!, round, acked, killed.promise, () => {
          acks++;
        })
      ),
    );
    await (lockTaken ?? cli.result);
    ok(acks > 0, "users were chatting when the CLI wrote");
    kill();
    await chatting;
    equal((await server.status).signal, "SIGKILL");
    const result = await cli.result;
    if (result.code === 0) acked.users.set(newUser, newPassword);
    else equal(result.signal, "SIGKILL", `the CLI failed: ${result.stderr}`);
  } finally {
    await Promise.all([...clients, inFlight].map((c) => c[Symbol.asyncDispose]()));
  }
}

/** After a restart: every acknowledged account logs in, the locks hold, history is served, ids move on. */
async function checkAfterRestart(port: number, acked: Acked, locked: string[]): Promise<void> {
  await using alice = await loginAs(port, "alice");
  const room = await alice.until((f) => f.type === "room");
  ok(room.type === "room");
  const served = new Map(room.history.map((m) => [m.text, m.id]));
  const oldest = Math.min(...served.values());
  for (const [text, id] of acked.messages) {
    if (id >= oldest) equal(served.get(text), id, `"${text}" is in the history`);
  }
  await alice.send({ type: "say", text: "after the crash" });
  const next = await alice.until((f) => f.type === "message" && f.text === "after the crash");
  ok(
    next.type === "message" && next.id > Math.max(...acked.messages.values()),
    "no message id is reused",
  );
  for (const [user, password] of acked.users) {
    await using c = await loginAs(port, user, password);
    ok(c);
  }
  for (const user of locked) {
    await using c = await TestClient.connect(port);
    const answer = await c.login(user, passwordOf(user));
    equal(answer.type === "auth_failed" && answer.reason, "locked", `${user} is still locked`);
  }
}

Deno.test("SIGKILL while users chat, logins fail and the admin CLI writes loses no account, lockout or acknowledged message", async () => {
  await using dir = await tempDir();
  await writeServerFiles(dir.path, { users: [...CHATTERS, "victim", "victim1"] });
  const acked: Acked = { messages: new Map(), users: new Map() };
  const rounds = [
    // Three failures lock victim; two leave victim1 one short of a lock.
    { failing: ["victim", 3] as [string, number], kill: "server when the CLI is done" as const },
    { failing: ["victim1", 2] as [string, number], kill: "both when the CLI locks" as const },
  ];
  for (const [round, plan] of rounds.entries()) {
    await using server = await startServerProcess(dir.path, { args: SERVER_ARGS });
    if (round > 0) await checkAfterRestart(server.port, acked, ["victim"]);
    await chatAndKill(dir.path, server, round, acked, plan);
    await checkFiles(dir.path, acked, rounds.slice(0, round + 1).map((r) => r.failing));
  }
  await using server = await startServerProcess(dir.path, { args: SERVER_ARGS });
  await checkAfterRestart(server.port, acked, ["victim"]);
  // victim1's two failures survived: the third locks the account.
  await failLogins(server.port, "victim1", 1);
  await using c = await TestClient.connect(server.port);
  const answer = await c.login("victim1", passwordOf("victim1"));
  equal(answer.type === "auth_failed" && answer.reason, "locked");
  ok(acked.messages.size >= 2 * 10, `${acked.messages.size} messages acknowledged`);
  ok(acked.users.has("carol0"), "the CLI's first add was acknowledged");
  // The admin CLI still works after being killed holding the lock.
  const after = await startCli(dir.path, ["add", "dave"], "amber kettle 9 42\n").result;
  equal(after.code, 0, after.stderr);
});
