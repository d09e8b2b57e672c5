import { FakeClock } from "../_fake_clock.ts";
/**
 * The account rules over real TLS, against an in-process server: attempts,
 * lockouts, no user enumeration, hash upgrades, broken credential files,
 * logins under load and the login timeout.
 *
 * @module
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { Hasher } from "../../lib/auth/hash.ts";
import { concatBytes } from "../../lib/util/bytes.ts";
import { type ClientFrame, encodeFrame, type ServerFrame } from "../../lib/wire/protocol.ts";
import { startServer } from "../../lib/server/app.ts";
import { connect } from "../../lib/net/tls_client.ts";
import { tempDir, type TestClient, testPki, within } from "../_helpers.ts";
import {
  passwordOf,
  startTestServer,
  TEST_SCRYPT_LOG_N,
  testConfig,
  type TestServer,
  writeTestCerts,
} from "../_server.ts";
import { byeOf, messageWith, presenceOf } from "./_frames.ts";

type AuthFailedFrame = Extract<ServerFrame, { type: "auth_failed" }>;

const WRONG = "not the password at all";
const LOCKED_1_MIN =
  "Too many failed logins for this name from your address: it is locked from here, try again in 1 minute";
const ADDRESS_LOCKED_1_MIN =
  "Too many failed logins from your address: every account is locked from it, try again in 1 minute";

function isAuth(f: ServerFrame): f is Extract<ServerFrame, { type: "auth" }> {
  return f.type === "auth";
}

function isAuthFailed(f: ServerFrame): f is AuthFailedFrame {
  return f.type === "auth_failed";
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Write `content` as `dir/credentials.json`; returns its path. */
async function writeCredentials(dir: string, content: unknown): Promise<string> {
  const path = join(dir, "credentials.json");
  await Deno.writeTextFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

async function readUsers(
  dir: string,
): Promise<Record<string, { role: string; hash: string }>> {
  const file = JSON.parse(await Deno.readTextFile(join(dir, "credentials.json")));
  equal(file.version, 2, "the file is in the versioned format, with account ids");
  return file.users;
}

/**
 * On one connection, try each `[user, password]` in turn (hello first);
 * returns the answer to each.
 */
async function attempts(
  client: TestClient,
  tries: [string, string][],
): Promise<ServerFrame[]> {
  const answers: ServerFrame[] = [];
  for (const [username, password] of tries) {
    if (answers.length === 0) {
      answers.push(await client.login(username, password));
    } else {
      await client.until(isAuth);
      await client.send({ type: "login", username, password });
      answers.push(await client.until((f) => f.type !== "auth"));
    }
  }
  return answers;
}

/** Three wrong passwords on one connection: the account is locked after it. */
async function failThrice(s: TestServer, user: string): Promise<void> {
  await using client = await s.client();
  const answers = await attempts(client, [[user, WRONG], [user, WRONG], [user, WRONG]]);
  deepEqual(answers.map((a) => a.type === "auth_failed" && a.reason), Array(3).fill("invalid"));
  equal((await byeOf(client))?.type, "bye");
}

/** One connection, one login (by default with the right password); returns
 * the answer and, when it ends the connection, the goodbye. */
async function loginOnce(
  s: TestServer,
  user: string,
  password = passwordOf(user),
): Promise<{ answer: ServerFrame; bye?: ServerFrame | undefined }> {
  await using client = await s.client();
  const answer = await client.login(user, password);
  if (answer.type === "welcome") return { answer };
  if (answer.type === "auth_failed" && answer.reason === "invalid") return { answer };
  return { answer, bye: await byeOf(client) };
}

function lockedAnswer(retryAfterMs: number, message: string) {
  return {
    answer: {
      type: "auth_failed",
      reason: "locked",
      attempts_left: 0,
      retry_after_ms: retryAfterMs,
      message,
    },
    bye: { type: "bye", code: "locked", message },
  };
}

/**
 * Send `frames` at once on a fresh connection and return every byte the
 * server sends until it closes.
 */
async function transcript(port: number, frames: ClientFrame[]): Promise<Uint8Array> {
  const p = await testPki();
  const conn = await connect({ hostname: "localhost", port, caCerts: [p.ca.cert] });
  try {
    for (const frame of frames) await conn.sink.write(encodeFrame(frame));
    const readAll = async () => {
      const chunks: Uint8Array[] = [];
      for (let chunk = await conn.source.read(); chunk; chunk = await conn.source.read()) {
        chunks.push(chunk);
      }
      return chunks;
    };
    const chunks = await within(readAll(), 5000, "the server to close");
    return concatBytes(chunks);
  } finally {
    conn.close();
  }
}

function logins(username: string, passwords: string[]): ClientFrame[] {
  return [
    { type: "hello", version: 1 },
    ...passwords.map((password): ClientFrame => ({ type: "login", username, password })),
  ];
}

Deno.test("wrong passwords count down 2, 1, then bye denied closes the connection", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using client = await s.client();
  deepEqual(await client.next(), {
    type: "hello",
    version: 1,
    server: "banter/0.1.0",
    versions: [1, 2],
  });
  await client.send({ type: "hello", version: 1 });
  deepEqual(await client.next(), { type: "auth", attempts_left: 3 });
  const messages = [
    "Wrong username or password, 2 attempts left",
    "Wrong username or password, 1 attempt left",
    "Wrong username or password",
  ];
  for (const [i, message] of messages.entries()) {
    const left = 2 - i;
    await client.send({ type: "login", username: "alice", password: WRONG });
    deepEqual(await client.next(), {
      type: "auth_failed",
      reason: "invalid",
      attempts_left: left,
      message,
    });
    if (left > 0) deepEqual(await client.next(), { type: "auth", attempts_left: left });
  }
  deepEqual(await client.untilClosed(), [
    { type: "bye", code: "denied", message: "Access denied: too many failed attempts" },
  ]);
  ok(!client.received.some((f) => f.type === "welcome"));
});

Deno.test("a locked account stays locked across reconnect and restart, and opens when the lock ends", async () => {
  const clock = new FakeClock();
  await using dir = await tempDir();
  const first = await startTestServer({ users: ["alice"], deps: { clock }, dir: dir.path });
  try {
    await failThrice(first, "alice");
    deepEqual(
      await loginOnce(first, "alice"),
      lockedAnswer(60_000, LOCKED_1_MIN),
      "even the right password is refused on a new connection",
    );
    clock.advance(20_000);
    deepEqual(await loginOnce(first, "alice"), lockedAnswer(40_000, LOCKED_1_MIN));
  } finally {
    await first.stop();
  }

  await using second = await startTestServer({ deps: { clock }, dir: dir.path });
  deepEqual(
    await loginOnce(second, "alice"),
    lockedAnswer(40_000, LOCKED_1_MIN),
    "the restarted server remembers the lock",
  );
  clock.advance(39_999);
  deepEqual(await loginOnce(second, "alice"), lockedAnswer(1, LOCKED_1_MIN));
  clock.advance(1);
  deepEqual(await loginOnce(second, "alice"), {
    answer: { type: "welcome", user: "alice", role: "user" },
  });
});

Deno.test("the second lock of an account lasts 5 minutes", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({ users: ["alice"], deps: { clock } });
  await failThrice(s, "alice");
  clock.advance(60_000);
  // Alice is slowed down now (3 failures in a row): from the 5th failure
  // on, each check waits 2 s, then 4 s, for its slot, from this address too.
  {
    await using client = await s.client();
    const answers = [await client.login("alice", WRONG)];
    for (const wait of [2_000, 4_000]) {
      await client.until(isAuth);
      const timers = clock.pendingTimers;
      await client.send({ type: "login", username: "alice", password: WRONG });
      await within(clock.untilPendingTimers(timers + 1), 5_000, "the slow-down's timer");
      clock.advance(wait);
      answers.push(await client.until((f) => f.type !== "auth"));
    }
    deepEqual(answers.map((a) => a.type === "auth_failed" && a.reason), Array(3).fill("invalid"));
    equal((await byeOf(client))?.type, "bye");
  }
  const message =
    "Too many failed logins for this name from your address: it is locked from here, try again in 5 minutes";
  deepEqual(await loginOnce(s, "alice"), lockedAnswer(300_000, message));
  clock.advance(300_000);
  equal((await loginOnce(s, "alice")).answer.type, "welcome");
});

Deno.test("ten failures from one address lock every account from it", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({ users: ["alice"], deps: { clock } });
  // Ten different names, so no account reaches its own limit.
  const guesses = Array.from({ length: 10 }, (_, i): [string, string] => [`guess${i}`, WRONG]);
  for (const batch of [guesses.slice(0, 3), guesses.slice(3, 6), guesses.slice(6, 9)]) {
    await using client = await s.client();
    const answers = await attempts(client, batch);
    ok(answers.every((a) => a.type === "auth_failed" && a.reason === "invalid"));
  }
  await using client = await s.client();
  const [tenth, right] = await attempts(client, [guesses[9]!, ["alice", passwordOf("alice")]]);
  equal(tenth?.type === "auth_failed" && tenth.reason, "invalid");
  deepEqual(right, lockedAnswer(60_000, ADDRESS_LOCKED_1_MIN).answer);
  deepEqual(await byeOf(client), lockedAnswer(60_000, ADDRESS_LOCKED_1_MIN).bye);
  // The address lock reads the same for a name that is no account.
  deepEqual(await loginOnce(s, "nobody-here"), lockedAnswer(60_000, ADDRESS_LOCKED_1_MIN));
  clock.advance(60_000);
  equal((await loginOnce(s, "alice")).answer.type, "welcome");
});

Deno.test("an unknown user and a wrong password get byte-identical answers, lockout included", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({ users: ["alice"], deps: { clock } });
  const wrong = [WRONG, WRONG, WRONG];
  const known = await transcript(s.port, logins("alice", wrong));
  const unknown = await transcript(s.port, logins("mallory", wrong));
  deepEqual(unknown, known);
  const lines = new TextDecoder().decode(known).split("\n");
  equal(lines.at(-1), "", "every frame ends in a newline");
  equal(lines.filter((l) => l.includes('"auth_failed"')).length, 3);
  match(lines.at(-2) ?? "", /"code":"denied"/);

  // The right password for a locked account looks like any name locked.
  const lockedKnown = await transcript(s.port, logins("alice", [passwordOf("alice")]));
  const lockedUnknown = await transcript(s.port, logins("mallory", [WRONG]));
  deepEqual(lockedUnknown, lockedKnown);
  match(new TextDecoder().decode(lockedKnown), /"reason":"locked"/);
});

Deno.test("legacy SHA-256 and bcrypt hashes are upgraded to scrypt on login", async () => {
  await using dir = await tempDir();
  const bcryptHash = bcrypt.hashSync(passwordOf("bob"), 4);
  ok(bcryptHash.startsWith("$2b$04$"));
  await writeCredentials(dir.path, {
    version: 1,
    users: {
      alice: { role: "user", hash: sha256Hex(passwordOf("alice")) },
      bob: { role: "admin", hash: bcryptHash },
    },
  });
  await using s = await startTestServer({ dir: dir.path });

  equal((await loginOnce(s, "alice", WRONG)).answer.type, "auth_failed");
  equal((await readUsers(dir.path)).alice?.hash, sha256Hex(passwordOf("alice")));

  for (const [user, role] of [["alice", "user"], ["bob", "admin"]]) {
    deepEqual((await loginOnce(s, user!)).answer, { type: "welcome", user, role });
  }
  const users = await readUsers(dir.path);
  const scrypt = new RegExp(`^\\$scrypt\\$ln=${TEST_SCRYPT_LOG_N},r=8,p=1\\$`);
  match(users.alice?.hash ?? "", scrypt);
  match(users.bob?.hash ?? "", scrypt);
  deepEqual([users.alice?.role, users.bob?.role], ["user", "admin"]);
  for (const user of ["alice", "bob"]) {
    equal((await loginOnce(s, user)).answer.type, "welcome", `${user} with the new hash`);
  }
});

Deno.test("a legacy plain-map credentials file is upgraded on login and rewritten versioned", async () => {
  await using dir = await tempDir();
  const adminHash = sha256Hex(passwordOf("admin"));
  await writeCredentials(dir.path, { admin: adminHash, alice: sha256Hex(passwordOf("alice")) });
  await using s = await startTestServer({ dir: dir.path });
  deepEqual((await loginOnce(s, "alice")).answer, {
    type: "welcome",
    user: "alice",
    role: "user",
  });
  const users = await readUsers(dir.path);
  deepEqual(Object.keys(users), ["admin", "alice"]);
  deepEqual(
    users.admin,
    { id: (users.admin as { id?: string } | undefined)?.id, role: "admin", hash: adminHash },
    "admin untouched",
  );
  match((users.admin as { id?: string } | undefined)?.id ?? "", /^[A-Za-z0-9_-]{22}$/);
  match(users.alice?.hash ?? "", /^\$scrypt\$/);
  deepEqual((await loginOnce(s, "admin")).answer, {
    type: "welcome",
    user: "admin",
    role: "admin",
  });
});

Deno.test("the server refuses to start on a malformed credentials file and names it", async () => {
  const cases: [string, string][] = [
    ['{"version":1,"users":{"alice":', "not valid JSON"],
    ['{"version":1,"users":{}}', "no users"],
    ['{"version":3,"users":{"alice":{"role":"user","hash":"x"}}}', 'unsupported version "3"'],
    ['{"alice":42}', 'user "alice": hash must be a non-empty string'],
  ];
  for (const [content, problem] of cases) {
    await using dir = await tempDir();
    await writeTestCerts(dir.path);
    const path = await writeCredentials(dir.path, content);
    await rejects(
      startServer(testConfig(dir.path), { announce: () => {} }),
      (error: Error) => {
        equal(error.message, `Cannot load credentials from ${path}: ${problem}`);
        return true;
      },
    );
    equal(await Deno.readTextFile(path), content, "the broken file is left as it was");
  }
});

Deno.test("a login that does not finish within the login timeout is closed", async () => {
  const clock = new FakeClock();
  // Far longer than the test may wait in real time: only fake time can end it.
  const loginTimeoutMs = 60_000;
  await using s = await startTestServer({
    users: ["alice"],
    config: { loginTimeoutMs },
    deps: { clock },
  });
  await using silent = await s.client();
  await silent.next(); // hello: its session and login timer exist
  await using greeted = await s.client();
  await greeted.send({ type: "hello", version: 1 });
  await greeted.until(isAuth);
  await using stalled = await s.client();
  await stalled.send({ type: "hello", version: 1 });
  await stalled.until(isAuth);
  await stalled.send({ type: "login", username: "alice", password: WRONG });
  await stalled.until(isAuthFailed);
  clock.advance(loginTimeoutMs - 1);
  // Answered after the advance, so not closed before the timeout.
  await stalled.send({ type: "ping", id: 1 });
  await stalled.until((f) => f.type === "pong");
  clock.advance(1);
  const bye = { type: "bye", code: "timeout", message: "Login did not finish in time" };
  deepEqual(await byeOf(stalled), bye);
  deepEqual(await byeOf(greeted), bye);
  deepEqual(await byeOf(silent), bye);
  deepEqual(
    silent.received.map((f) => f.type),
    ["hello", "bye"],
    "the silent one got nothing else",
  );
  ok(!stalled.received.some((f) => f.type === "welcome"));
});

Deno.test("chat keeps flowing while 50 clients log in at once", async () => {
  // Ordering, not timing: chat round trips must complete while most of the
  // logins are still being hashed (a hash on the main thread, or a login
  // queue in front of chat, would hold them until the storm is over). How
  // fast it is lives in the bench's login-storm scenario.
  const scryptLogN = 14;
  const logins = 50;
  await using dir = await tempDir();
  const hasher = new Hasher({ params: { logN: scryptLogN, r: 8, p: 1 } });
  const sharedPassword = "fifty logins at once";
  const sharedHash = await hasher.hash(sharedPassword);
  const users: Record<string, { role: string; hash: string }> = {
    alice: { role: "user", hash: await hasher.hash(passwordOf("alice")) },
    bob: { role: "user", hash: await hasher.hash(passwordOf("bob")) },
  };
  const names = Array.from({ length: logins }, (_, i) => `load${i}`);
  for (const name of names) users[name] = { role: "user", hash: sharedHash };
  await writeCredentials(dir.path, { version: 1, users });
  await using s = await startTestServer({
    dir: dir.path,
    config: {
      scryptLogN,
      maxConnectionsPerIp: logins + 10,
      // All 50 come from 127.0.0.1: let them all wait for their hash.
      loginQueuePerAddress: logins,
      rateBurst: 100_000,
      ratePerSecond: 100_000,
      historyLimit: 0,
    },
  });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await alice.until(presenceOf("join", "bob"));

  const clients: TestClient[] = [];
  let welcomed = 0;
  const storm = Promise.all(names.map(async (name) => {
    const client = await s.client();
    clients.push(client);
    // A failure bound only: 50 hashes share the cores with whatever else runs.
    const answer = await client.login(name, sharedPassword, 120_000);
    if (answer.type === "welcome") welcomed++;
    return answer;
  }));
  try {
    // Wait until the server is hashing (some logins are answered) ...
    while (welcomed === 0) {
      await alice.send({ type: "say", text: "warm-up" });
      await bob.until(messageWith("warm-up"));
    }
    // ... then three round trips must not wait for the rest of the storm.
    const pendingBefore = logins - welcomed;
    for (let k = 0; k < 3; k++) {
      await alice.send({ type: "say", text: `ping ${k}` });
      await bob.until(messageWith(`ping ${k}`));
      await bob.send({ type: "say", text: `pong ${k}` });
      await alice.until(messageWith(`pong ${k}`));
    }
    const pendingAfter = logins - welcomed;
    ok(
      pendingAfter > 0 && pendingAfter >= pendingBefore / 4,
      `chat waited for the logins: ${pendingBefore} pending before three round trips, ${pendingAfter} after`,
    );
    const answers = await storm;
    ok(answers.every((a) => a.type === "welcome"), JSON.stringify(answers));
  } finally {
    await storm.catch(() => undefined);
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

// Parallel connections must not make more guesses than sequential ones.
Deno.test({
  name: "parallel wrong passwords are locked after three like sequential ones",
  fn: async () => {
    const clock = new FakeClock();
    const scryptLogN = 14;
    await using dir = await tempDir();
    const hasher = new Hasher({ params: { logN: scryptLogN, r: 8, p: 1 } });
    await writeCredentials(dir.path, {
      version: 1,
      users: { alice: { role: "user", hash: await hasher.hash(passwordOf("alice")) } },
    });
    await using s = await startTestServer({
      dir: dir.path,
      deps: { clock },
      config: { scryptLogN },
    });
    const clients = await Promise.all(Array.from({ length: 8 }, () => s.client()));
    try {
      const answers = await Promise.all(clients.map((c) => c.login("alice", WRONG)));
      const reasons = answers.map((a) => a.type === "auth_failed" ? a.reason : a.type);
      deepEqual(
        reasons.toSorted(),
        [...Array(3).fill("invalid"), ...Array(5).fill("locked")],
        JSON.stringify(reasons),
      );
    } finally {
      for (const client of clients) await client[Symbol.asyncDispose]();
    }
  },
});
