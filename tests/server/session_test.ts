import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import type { Member } from "../../lib/chat/message.ts";
import type { LoggedInUser, SessionAuth, SessionHub } from "../../lib/server/session.ts";
import { runSession, stubAuth } from "../fuzz/_memory_session.ts";

function codes(frames: ServerFrame[]): string[] {
  return frames.map((f) => f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : f.type);
}

Deno.test("server says hello first and asks for credentials after the client's hello", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  const hello = await c.next();
  deepEqual(hello, { type: "hello", version: 1, server: "banter/0.1.0", versions: [1, 2] });
  await c.send({ type: "hello", version: 1, client: "test" });
  deepEqual(await c.next(), { type: "auth", attempts_left: 3 });
});

Deno.test("a client saying protocol version 0 gets an error and goodbye", async () => {
  await using s = await startTestServer();
  await using c = await s.client();
  await c.send({ type: "hello", version: 0 });
  deepEqual(codes(await c.untilClosed()), ["hello", "error:unexpected", "bye:protocol_error"]);
});

Deno.test("a client of a newer version than the server's is spoken to in version 2", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  await c.send({ type: "hello", version: 99 });
  await c.until((f) => f.type === "auth");
  await c.send({ type: "login", username: "alice", password: passwordOf("alice") });
  const welcome = await c.until((f) => f.type === "welcome");
  equal(welcome.type === "welcome" && welcome.version, 2);
});

Deno.test("a frame before hello is refused", async () => {
  await using s = await startTestServer();
  await using c = await s.client();
  await c.send({ type: "say", text: "hi" });
  deepEqual(codes(await c.untilClosed()), ["hello", "error:unexpected", "bye:protocol_error"]);
});

for (
  const [name, payload, code] of [
    ["a JSON array", "[1,2,3]\n", "not_object"],
    ["an unknown frame type", '{"type":"sudo"}\n', "unknown_type"],
  ] as const
) {
  Deno.test(`${name} gets an error frame with a reason, then the connection closes, and others carry on`, async () => {
    await using s = await startTestServer({ users: ["bob"] });
    await using bob = await s.login("bob");
    await using c = await s.client();
    await c.sendRaw(payload);
    const frames = await c.untilClosed();
    deepEqual(codes(frames).slice(-2), [`error:${code}`, "bye:protocol_error"]);
    await bob.send({ type: "say", text: "still fine" });
    const echoed = await bob.until((f) => f.type === "message");
    equal(echoed.type === "message" && echoed.text, "still fine");
  });
}

Deno.test("a logged-in peer that stops answering pings is dropped and its presence removed", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({
    users: ["alice", "bob"],
    // Far longer than the test may wait in real time: only fake time moves it.
    config: { pingIntervalMs: 20_000, deadAfterMs: 60_000 },
    deps: { clock },
  });
  await using bob = await s.login("bob");
  await using alice = await s.login("alice");
  await bob.until((f) => f.type === "join" && f.user === "alice");
  // Both were last heard at login; at 20 s idle both are pinged.
  clock.advance(20_000);
  const ping = await bob.until((f) => f.type === "ping");
  if (ping.type !== "ping") throw new Error("Expected a ping");
  await bob.send({ type: "pong", id: ping.id });
  // Frames are handled in order: this pong means the server has seen bob's.
  await bob.send({ type: "ping", id: 99 });
  await bob.until((f) => f.type === "pong" && f.id === 99);
  // alice answers nothing: at 60 s idle she is dropped, bob (40 s) is not.
  clock.advance(40_000);
  const leave = await bob.until((f) => f.type === "leave" && f.user === "alice");
  equal(leave.type === "leave" && leave.reason, "timed out");
  const aliceFrames = await alice.untilClosed();
  ok(aliceFrames.some((f) => f.type === "ping"), "alice was pinged");
  equal(codes(aliceFrames).at(-1), "bye:timeout");
  await bob.send({ type: "say", text: "still here" });
  const echoed = await bob.until((f) => f.type === "message");
  equal(echoed.type === "message" && echoed.text, "still here");
});

Deno.test("heartbeats between hello and login are answered or ignored, never fatal", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  await c.next(); // hello
  await c.send({ type: "hello", version: 1 });
  await c.send({ type: "pong", id: 1 });
  await c.send({ type: "ping", id: 2 });
  deepEqual(await c.until((f) => f.type === "pong"), { type: "pong", id: 2 });
  await c.send({ type: "pong", id: 3 });
  await c.send({ type: "login", username: "alice", password: passwordOf("alice") });
  await c.until((f) => f.type === "welcome");
});

Deno.test("a dropped connection shows others a leave with reason disconnected", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  const alice = await s.login("alice");
  await bob.until((f) => f.type === "join" && f.user === "alice");
  alice.conn.close();
  const leave = await bob.until((f) => f.type === "leave" && f.user === "alice");
  equal(leave.type === "leave" && leave.reason, "disconnected");
  await alice[Symbol.asyncDispose]();
});

Deno.test("the deno TLS engine (--tls-engine deno) serves a whole session too", async () => {
  await using s = await startTestServer({ users: ["alice"], config: { tlsEngine: "deno" } });
  await using alice = await s.login("alice");
  await alice.send({ type: "say", text: "over Deno.listenTls" });
  const echoed = await alice.until((f) => f.type === "message");
  equal(echoed.type === "message" && echoed.text, "over Deno.listenTls");
});

/** A session over memory whose login says alice is an admin while the
 * account, asked again at entry, is `now`. */
async function enterWhileChanged(now: LoggedInUser | undefined) {
  const alice = { name: "alice", role: "admin", id: "A".repeat(22) } as const;
  const auth: SessionAuth = {
    ...stubAuth,
    login: () => Promise.resolve({ ok: true, user: alice }),
    current: (user) => user === alice ? now : undefined,
  };
  const entered: Member[] = [];
  const hub: SessionHub = {
    isBanned: () => false,
    enter: (member) => {
      entered.push(member);
      const end = () => member.close({ code: "end", message: "Goodbye" });
      return {
        input: (text) => text === "end" && end(),
        request: () => ({ ok: true }),
        leave: () => {},
      };
    },
  };
  const lines = [
    { type: "hello", version: 1 },
    { type: "login", username: "alice", password: "whatever" },
    { type: "say", text: "end" },
  ].map((frame) => new TextEncoder().encode(`${JSON.stringify(frame)}\n`));
  const { frames } = await runSession(lines, { auth, hub });
  return { frames, entered: entered.map((m) => `${m.name} ${m.role} ${m.account}`) };
}

Deno.test("a login enters the chat with the role its account has when it enters", async () => {
  const { frames, entered } = await enterWhileChanged({
    name: "alice",
    role: "user",
    id: "A".repeat(22),
  });
  deepEqual(frames.find((f) => f.type === "welcome"), {
    type: "welcome",
    user: "alice",
    role: "user",
  });
  deepEqual(entered, [`alice user ${"A".repeat(22)}`]);
});

Deno.test("a login whose account changed before it entered is closed, never entered", async () => {
  const { frames, entered } = await enterWhileChanged(undefined);
  deepEqual(codes(frames), ["hello", "auth", "bye:denied"]);
  deepEqual(frames.at(-1), {
    type: "bye",
    code: "denied",
    message: "Your account was changed while you logged in: log in again",
  });
  deepEqual(entered, []);
});
