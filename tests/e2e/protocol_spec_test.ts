/**
 * The rules of docs/PROTOCOL.md that an outside implementer asked about,
 * each pinned over real TLS against an in-process server, so that code and
 * text cannot drift apart: what comes before `hello`, which error wins for
 * a bad first frame, a `login` sent before `auth`, the lockout rules, the
 * heartbeat's real bounds, member order, `/me` trimming, how a joke maps
 * to frames, and what a client sees past the pending-handshake caps.
 * Numbers are the defaults of lib/server/settings.ts; time is fake.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { ACCOUNT_LOCKOUT, IP_LOCKOUT, LOCKOUT_FORGET_MS } from "../../lib/auth/lockout.ts";
import { FakeClock } from "../_fake_clock.ts";
import { type TestClient, within } from "../_helpers.ts";
import { FAKE_JOKES, startFakeJokeApi } from "../_joke_api.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import { isMessage, type MessageFrame, messages, messageWith } from "./_frames.ts";

const WRONG = "not the password at all";
const DEFAULTS = parseServerConfig([]).config;

function codes(frames: readonly ServerFrame[]): string[] {
  return frames.map((f) => f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : f.type);
}

function line(frame: unknown): string {
  return JSON.stringify(frame) + "\n";
}

// --- Section 3: before hello, and the bad first frame -----------------------

for (const type of ["ping", "pong"] as const) {
  Deno.test(`a ${type} before the client's hello is fatal: error unexpected, then bye protocol_error`, async () => {
    await using s = await startTestServer();
    await using c = await s.client();
    await c.until((f) => f.type === "hello");
    await c.send({ type, id: 1 });
    deepEqual(await c.untilClosed(), [
      { type: "error", code: "unexpected", message: "Expected a hello frame first" },
      { type: "bye", code: "protocol_error", message: "Expected a hello frame first" },
    ]);
  });
}

Deno.test("a ping after the client's hello and before login is answered with a pong of the same id", async () => {
  await using s = await startTestServer();
  await using c = await s.client();
  await c.send({ type: "hello", version: 1 });
  await c.until((f) => f.type === "auth");
  await c.send({ type: "ping", id: 41 });
  deepEqual(await c.next(), { type: "pong", id: 41 });
});

/** 16 385 bytes of invalid UTF-8 and a newline: one byte over the pre-login cap. */
function tooLong(): Uint8Array {
  equal(DEFAULTS.preLoginMaxFrameBytes, 16_384);
  const bytes = new Uint8Array(16_386).fill(0xff);
  bytes[16_385] = 0x0a;
  return bytes;
}

/** A first frame, and the error it must get: framing, then nesting, then
 * parsing (type, then fields), then the state, then the version. */
const FIRST_FRAMES: [string, string | Uint8Array, string][] = [
  ["a line over the pre-login cap, even of invalid UTF-8", tooLong(), "frame_too_long"],
  ["invalid UTF-8", new Uint8Array([0xff, 0x0a]), "invalid_utf8"],
  ["17 levels of nesting in a line that is not even JSON", `{"a":${"[".repeat(16)}\n`, "too_deep"],
  ["an empty line", "\n", "invalid_json"],
  ["a JSON array", "[1]\n", "not_object"],
  ["an object without a type", line({ version: 1 }), "invalid_field"],
  ["an unknown type", line({ type: "sudo" }), "unknown_type"],
  ["a login with missing fields", line({ type: "login" }), "invalid_field"],
  ["a hello with a string version", line({ type: "hello", version: "1" }), "invalid_field"],
  ["a well-formed login", line({ type: "login", username: "alice", password: "x" }), "unexpected"],
  ["a hello of version 0", line({ type: "hello", version: 0 }), "unexpected"],
];

Deno.test("a bad first frame gets the error of the first check it fails: framing, nesting, parsing, state, version", async () => {
  await using s = await startTestServer();
  const got: string[] = [];
  for (const [, bytes] of FIRST_FRAMES) {
    await using c = await s.client();
    await c.until((f) => f.type === "hello");
    await c.sendRaw(bytes);
    const frames = await c.untilClosed();
    equal(codes(frames).at(-1), "bye:protocol_error");
    got.push(codes(frames).at(-2) ?? "none");
  }
  deepEqual(
    got.map((code, i) => `${FIRST_FRAMES[i]![0]}: ${code}`),
    FIRST_FRAMES.map(([name, , code]) => `${name}: error:${code}`),
  );
});

Deno.test("a login sent before auth arrived (pipelined after hello) answers that auth", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  await c.sendRaw(
    line({ type: "hello", version: 1 }) +
      line({ type: "login", username: "alice", password: WRONG }) +
      line({ type: "login", username: "alice", password: passwordOf("alice") }),
  );
  await c.until((f) => f.type === "welcome");
  deepEqual(codes(c.received), ["hello", "auth", "auth_failed", "auth", "welcome"]);
});

// --- Section 3.2: lockouts ---------------------------------------------------

/** Try each login in turn, reusing a connection while it asks again
 * (`auth` after `invalid`), else opening a new one; the answers. */
async function attemptAll(s: TestServer, logins: [string, string][]): Promise<ServerFrame[]> {
  const answers: ServerFrame[] = [];
  let c: TestClient | undefined;
  try {
    for (const [username, password] of logins) {
      if (c === undefined) {
        c = await s.client();
        await c.send({ type: "hello", version: 1 });
      }
      await c.until((f) => f.type === "auth");
      await c.send({ type: "login", username, password });
      const answer = await c.until((f) =>
        f.type === "welcome" || f.type === "auth_failed" || f.type === "bye"
      );
      answers.push(answer);
      const again = answer.type === "auth_failed" && answer.reason === "invalid" &&
        answer.attempts_left > 0;
      if (!again) {
        await c[Symbol.asyncDispose]();
        c = undefined;
      }
    }
  } finally {
    await c?.[Symbol.asyncDispose]();
  }
  return answers;
}

function outcome(f: ServerFrame): string {
  if (f.type === "auth_failed") {
    return f.reason === "locked" ? `locked ${f.retry_after_ms}` : "invalid";
  }
  return f.type === "bye" ? `bye ${f.code}` : f.type;
}

/** `n` wrong logins on names nobody has: each is its own account record. */
function strangers(n: number, from = 0): [string, string][] {
  return Array.from({ length: n }, (_, i) => [`nobody${from + i}`, WRONG]);
}

Deno.test("lockout: a success resets the account's count from that address, not the address's own", async () => {
  equal(ACCOUNT_LOCKOUT.threshold, 3);
  equal(IP_LOCKOUT.threshold, 10);
  const clock = new FakeClock();
  await using s = await startTestServer({ users: ["alice"], deps: { clock } });
  const right: [string, string] = ["alice", passwordOf("alice")];
  const wrong: [string, string] = ["alice", WRONG];
  // 2 failures, a success, 2 failures, a success: never 3 in a row, no lock.
  const first = await attemptAll(s, [wrong, wrong, right, wrong, wrong, right]);
  deepEqual(first.map(outcome), ["invalid", "invalid", "welcome", "invalid", "invalid", "welcome"]);
  // The address has 4 failures: 6 more on any names lock it.
  const more = await attemptAll(s, strangers(6));
  deepEqual(more.map(outcome), Array(6).fill("invalid"));
  deepEqual((await attemptAll(s, [right])).map(outcome), ["locked 60000"]);
});

Deno.test("lockout: attempts while locked are not counted, retry_after_ms is the time left, the ladder climbs and restarts after 24 h", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({ users: ["alice"], deps: { clock } });
  deepEqual((await attemptAll(s, strangers(10))).map(outcome), Array(10).fill("invalid"));
  deepEqual((await attemptAll(s, strangers(1, 10))).map(outcome), ["locked 60000"]);
  clock.advance(20_000);
  // Three more tries while locked: refused unchecked, and not counted.
  const locked = await attemptAll(s, [...strangers(2, 11), ["alice", passwordOf("alice")]]);
  deepEqual(locked.map(outcome), ["locked 40000", "locked 40000", "locked 40000"]);
  clock.advance(40_000);
  // The count restarted at the lock: 10 more failures before the next one,
  // which lasts 5 minutes (the second step of the ladder).
  deepEqual((await attemptAll(s, strangers(10, 20))).map(outcome), Array(10).fill("invalid"));
  deepEqual((await attemptAll(s, strangers(1, 30))).map(outcome), ["locked 300000"]);
  // Unlocked and 24 h without a failure: the record is forgotten, and the
  // ladder starts again at 1 minute.
  clock.advance(300_000 + LOCKOUT_FORGET_MS);
  deepEqual((await attemptAll(s, strangers(10, 40))).map(outcome), Array(10).fill("invalid"));
  deepEqual((await attemptAll(s, strangers(1, 50))).map(outcome), ["locked 60000"]);
});

// --- Section 7: heartbeat bounds ----------------------------------------------

/** alice logged in at the fake clock's start, which is when the heartbeat's checks began. */
async function heartbeatServer() {
  equal(DEFAULTS.pingIntervalMs, 20_000);
  equal(DEFAULTS.deadAfterMs, 60_000);
  const clock = new FakeClock();
  const s = await startTestServer({ users: ["alice"], deps: { clock } });
  const alice = await s.login("alice");
  return {
    clock,
    alice,
    async [Symbol.asyncDispose]() {
      await alice[Symbol.asyncDispose]();
      await s[Symbol.asyncDispose]();
    },
  };
}

function pingIds(client: TestClient): number[] {
  return client.received.flatMap((f) => f.type === "ping" ? [f.id] : []);
}

/** A frame that resets the idle time; resolves once the server read it. */
async function speak(client: TestClient, id: number): Promise<void> {
  await client.send({ type: "ping", id });
  await client.until((f) => f.type === "pong" && f.id === id);
}

Deno.test("heartbeat: quiet since a check, the first ping comes at 20 s and the drop at 60 s, pinged every 10 s between", async () => {
  await using h = await heartbeatServer();
  const { clock, alice } = h;
  clock.advance(20_000);
  await alice.until((f) => f.type === "ping");
  await speak(alice, 500);
  deepEqual(pingIds(alice), [1], "no ping at 10 s, one at 20 s");
  clock.advance(60_000);
  const frames = await alice.untilClosed();
  deepEqual(frames, [
    { type: "ping", id: 2 },
    { type: "ping", id: 3 },
    { type: "ping", id: 4 },
    { type: "ping", id: 5 },
    { type: "bye", code: "timeout", message: "No answer to heartbeat" },
  ]);
});

Deno.test("heartbeat: quiet since just after a check, the first ping comes at 29.999 s and the drop at 69.999 s", async () => {
  await using h = await heartbeatServer();
  const { clock, alice } = h;
  clock.advance(1);
  await speak(alice, 500); // last heard 1 ms after the heartbeat's start
  clock.advance(29_999);
  const first = await alice.until((f) => f.type === "ping");
  deepEqual(first, { type: "ping", id: 1 }, "no ping at 19.999 s idle");
  clock.advance(39_999);
  await alice.until((f) => f.type === "ping" && f.id === 4); // 59.999 s: pinged, not dropped
  clock.advance(1);
  deepEqual(await alice.untilClosed(), [
    { type: "bye", code: "timeout", message: "No answer to heartbeat" },
  ]);
});

// --- Sections 5 and 6: members, /me, jokes ------------------------------------

Deno.test("room members are sorted by UTF-16 code unit, case-sensitively (Bob before alice)", async () => {
  await using s = await startTestServer({ users: ["alice", "Bob", "carol"] });
  await using _carol = await s.login("carol");
  await using _bob = await s.login("Bob");
  await using alice = await s.login("alice");
  const room = await alice.until((f) => f.type === "room");
  deepEqual(room?.type === "room" && room.members, ["Bob", "alice", "carol"]);
});

Deno.test("/me and /msg text is trimmed at both ends, inner spaces kept; plain text is sent untrimmed", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await s.login("alice");
  await alice.send({ type: "say", text: "/me   waves  twice \t" });
  const action = await alice.until(isMessage);
  equal(action.text, "waves  twice");
  equal(action.action, true);
  await alice.send({ type: "say", text: "  hi  " });
  equal((await alice.until(isMessage)).text, "  hi  ");
  await alice.send({ type: "say", text: "/msg alice   note  to self " });
  const dm = await alice.until((f) => f.type === "dm");
  equal(dm.type === "dm" && dm.text, "note  to self");
});

for (
  const [path, lines] of [
    ["/v2-single", FAKE_JOKES.v2Single],
    ["/v2-twopart", FAKE_JOKES.v2Twopart],
    ["/official", FAKE_JOKES.official],
    ["/official-array", FAKE_JOKES.officialArray],
  ] as const
) {
  Deno.test(`a joke of the ${path.slice(1)} shape is ${lines.length} message frame(s) from JokeBot with consecutive ids and one ts`, async () => {
    const api = startFakeJokeApi();
    try {
      await using s = await startTestServer({
        users: ["alice"],
        config: { jokeUrl: api.url(path) },
        deps: { clock: new FakeClock() },
      });
      await using alice = await s.login("alice");
      await alice.send({ type: "say", text: "get_joke" });
      const told: MessageFrame[] = await messages(alice, lines.length);
      deepEqual(told.map((m) => m.text), [...lines]);
      ok(told.every((m) => m.from === "JokeBot" && m.bot === true && m.action === undefined));
      deepEqual(told.map((m) => m.id - told[0]!.id), lines.map((_, i) => i));
      ok(told.every((m) => m.ts === told[0]!.ts));
      // Nothing more follows the joke.
      await alice.send({ type: "say", text: "after" });
      await alice.until(messageWith("after"));
      equal(
        alice.received.filter((f) => f.type === "message" && f.from === "JokeBot").length,
        lines.length,
      );
    } finally {
      await api.close();
    }
  });
}

// --- Section 1: the pending-handshake caps ------------------------------------

Deno.test("past the pending-handshake cap a client gets no frame at all (no bye busy): its connection just closes", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({
    users: ["alice"],
    config: { maxPendingHandshakesPerIp: 1 },
    deps: { clock },
  });
  const before = clock.pendingTimers;
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await within(clock.untilPendingTimers(before + 1), 5_000, "the silent peer's handshake timer");
    let frames: ServerFrame[] = [];
    try {
      await using c = await s.client();
      frames = await c.untilClosed();
    } catch (error) {
      ok(error instanceof Error, String(error)); // the TLS handshake failed
    }
    deepEqual(frames, []);
  } finally {
    silent.close();
  }
});
