import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { startTestServer } from "../_server.ts";
import { messageWith, roomFrame } from "./_frames.ts";
import { loginV2 } from "./_v2_client.ts";

type Frame<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

function is<T extends ServerFrame["type"]>(type: T) {
  return (f: ServerFrame): f is Frame<T> => f.type === type;
}

function ackOf(id: string | number) {
  return (f: ServerFrame): f is Frame<"ack"> => f.type === "ack" && f.id === id;
}

Deno.test("v2: welcome tells the limits; the replay is a room frame per room, conversations, ready", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  const { client, welcome, rooms } = await loginV2(s.port, "alice");
  await using _ = client;
  deepEqual(welcome, {
    type: "welcome",
    user: "alice",
    role: "user",
    version: 2,
    limits: {
      message_chars: 4096,
      message_lines: 50,
      rate: { burst: 10, per_second: 2 },
      history_limit: 50,
      max_sessions: 8,
      retention_days: 30,
    },
  });
  deepEqual([...rooms.keys()], ["lobby"]);
  deepEqual(rooms.get("lobby")?.unread, 0);
});

Deno.test("v2: two sessions of one user both receive a DM and a room message", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using phone = await loginV2(s.port, "alice");
  await using laptop = await loginV2(s.port, "alice");
  await using bob = await loginV2(s.port, "bob");
  await bob.client.send({ type: "say", room: "lobby", text: "hi alice", id: 1 });
  const ack = await bob.client.until(ackOf(1));
  ok(typeof ack.message_id === "number");
  await bob.client.send({ type: "dm", to: "alice", text: "psst", id: "dm-1" });
  await bob.client.until(ackOf("dm-1"));
  for (const session of [phone.client, laptop.client]) {
    const message = await session.until(messageWith("hi alice"));
    equal(message.id, ack.message_id);
    const dm = await session.until(is("dm"));
    deepEqual([dm.from, dm.to, dm.text], ["bob", "alice", "psst"]);
  }
  await laptop.client.send({ type: "say", room: "lobby", text: "/who", id: "w" });
  const who = await laptop.client.until(is("who"));
  deepEqual([who.id, who.users.map((u) => u.name)], ["w", ["alice", "bob"]]);
});

Deno.test("v2: past --max-sessions-per-user the oldest session is closed with too_many_sessions", async () => {
  await using s = await startTestServer({ users: ["alice"], config: { maxSessionsPerUser: 2 } });
  await using first = await loginV2(s.port, "alice");
  await using second = await loginV2(s.port, "alice");
  await using _third = await loginV2(s.port, "alice");
  const frames = await first.client.untilClosed();
  const bye = frames.at(-1);
  equal(bye?.type === "bye" && bye.code, "too_many_sessions");
  await second.client.send({ type: "say", room: "lobby", text: "still here", id: 2 });
  await second.client.until(ackOf(2));
});

Deno.test("v2: resume after a server restart delivers exactly the missed messages, none twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "banter-v2-" });
  try {
    let lastSeen: number;
    {
      await using s = await startTestServer({ users: ["alice", "bob"], dir });
      await using alice = await loginV2(s.port, "alice");
      await using bob = await loginV2(s.port, "bob");
      await bob.client.send({ type: "say", room: "lobby", text: "seen 1" });
      await bob.client.send({ type: "say", room: "lobby", text: "seen 2" });
      lastSeen = (await alice.client.until(messageWith("seen 2"))).id;
      await alice.client[Symbol.asyncDispose]();
      await bob.client.send({ type: "say", room: "lobby", text: "missed 1" });
      await bob.client.send({ type: "say", room: "lobby", text: "missed 2", id: "m2" });
      await bob.client.until(ackOf("m2"));
    }
    await using s = await startTestServer({ users: ["alice", "bob"], dir });
    await using alice = await loginV2(s.port, "alice", { lobby: lastSeen });
    const lobby = alice.rooms.get("lobby")!;
    deepEqual(lobby.history.map((m) => m.text), ["missed 1", "missed 2"]);
    equal(lobby.truncated, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("v2: unread counts and mention flags after a reconnect; reading on one session clears the other", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  const first = await loginV2(s.port, "alice");
  await first.client.send({ type: "join", room: "dev", id: "j" });
  await first.client.until(ackOf("j"));
  await first.client[Symbol.asyncDispose]();
  await using bob = await loginV2(s.port, "bob");
  await bob.client.send({ type: "join", room: "dev" });
  await bob.client.send({ type: "say", room: "lobby", text: "morning all" });
  await bob.client.send({ type: "say", room: "dev", text: "Alice: can you review?" });
  await bob.client.send({ type: "say", room: "dev", text: "thanks", id: "last" });
  await bob.client.until(ackOf("last"));
  await using phone = await loginV2(s.port, "alice");
  await using laptop = await loginV2(s.port, "alice");
  const dev = phone.rooms.get("dev")!;
  deepEqual([dev.unread, dev.mentioned], [2, true]);
  const lobby = phone.rooms.get("lobby")!;
  deepEqual([lobby.unread, lobby.mentioned], [1, false]);
  const newest = dev.history.at(-1)!.id;
  await phone.client.send({ type: "read", room: "dev", last_read: newest, id: "r" });
  await phone.client.until(ackOf("r"));
  deepEqual(await laptop.client.until(is("read")), {
    type: "read",
    room: "dev",
    last_read: newest,
  });
  await using later = await loginV2(s.port, "alice");
  deepEqual(
    [later.rooms.get("dev")?.unread, later.rooms.get("dev")?.last_read],
    [0, newest],
  );
});

Deno.test("v2: /part and /join persist across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "banter-v2-" });
  try {
    {
      await using s = await startTestServer({ users: ["alice"], dir });
      await using alice = await loginV2(s.port, "alice");
      await alice.client.send({ type: "say", room: "lobby", text: "/join dev" });
      await alice.client.until(roomFrame("dev"));
      await alice.client.send({ type: "say", room: "lobby", text: "/part", id: "p" });
      await alice.client.until(ackOf("p"));
    }
    await using s = await startTestServer({ users: ["alice"], dir });
    await using alice = await loginV2(s.port, "alice");
    deepEqual([...alice.rooms.keys()], ["dev"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("v2: paging back through 500 messages returns every one once", async () => {
  await using s = await startTestServer({
    users: ["alice", "bob"],
    config: { rateBurst: 2000 },
  });
  await using bob = await loginV2(s.port, "bob");
  for (let i = 1; i <= 500; i++) {
    await bob.client.send({
      type: "say",
      room: "lobby",
      text: `m${i}`,
      ...(i === 500 ? { id: "end" } : {}),
    });
  }
  await bob.client.until(ackOf("end"), 20_000);
  await using alice = await loginV2(s.port, "alice");
  const lobby = alice.rooms.get("lobby")!;
  equal(lobby.truncated, true);
  const seen = lobby.history.map((m) => m.text);
  let before = lobby.history[0]!.id;
  for (let page = 0;; page++) {
    await alice.client.send({ type: "history", room: "lobby", before, limit: 50, id: page });
    const answer = await alice.client.until(is("history"));
    equal(answer.id, page);
    seen.unshift(...answer.messages.map((m) => m.text));
    if (!answer.truncated) break;
    before = answer.messages[0]!.id;
  }
  deepEqual(seen, Array.from({ length: 500 }, (_, i) => `m${i + 1}`));
});

Deno.test("v2: a refused request is an error with its id and the session goes on", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await loginV2(s.port, "alice");
  await alice.client.send({ type: "say", room: "lobby", text: "/kick bob", id: "k" });
  deepEqual(await alice.client.until(is("error")), {
    type: "error",
    code: "refused",
    message: "Cannot run /kick: not allowed",
    id: "k",
  });
  await alice.client.send({ type: "say", room: "nowhere", text: "hi", id: "n" });
  const notMember = await alice.client.until(is("error"));
  deepEqual([notMember.id, notMember.code], ["n", "refused"]);
  await alice.client.send({ type: "say", room: "lobby", text: "two\nlines", id: "ml" });
  // The message goes out before the answer to the request that posted it.
  equal((await alice.client.until(is("message"))).text, "two\nlines");
  await alice.client.until(ackOf("ml"));
});

Deno.test("v2: with --retention-days 0 messages go out live but are not replayed after a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "banter-v2-" });
  try {
    {
      await using s = await startTestServer({
        users: ["alice"],
        dir,
        config: { retentionDays: 0 },
      });
      await using alice = await loginV2(s.port, "alice");
      await alice.client.send({ type: "say", room: "lobby", text: "ephemeral" });
      await alice.client.until(messageWith("ephemeral"));
    }
    await using s = await startTestServer({ users: ["alice"], dir, config: { retentionDays: 0 } });
    await using alice = await loginV2(s.port, "alice");
    deepEqual(alice.rooms.get("lobby")?.history, []);
    await alice.client.send({ type: "history", room: "lobby", id: 1 });
    deepEqual((await alice.client.until(is("history"))).messages, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
