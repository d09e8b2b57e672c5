import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { FakeClock } from "../_fake_clock.ts";
import { encodeFrame } from "../../lib/wire/protocol.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import {
  byeOf,
  isMessage,
  isNotice,
  messages,
  messageWith,
  presenceOf,
  roomFrame,
  sayAndSettle,
} from "./_frames.ts";

/** Limits high enough that no test but the rate-limit one meets them. */
const NO_RATE_LIMIT = { rateBurst: 10_000, ratePerSecond: 10_000 };

Deno.test("a broadcast reaches every member with sender and time, in the same order for all", async () => {
  const names = ["alice", "bob", "carol"];
  const perSender = 8;
  // Time stands still unless the test moves it, so "server time" is exact.
  const clock = new FakeClock();
  await using s = await startTestServer({
    users: names,
    config: NO_RATE_LIMIT,
    deps: { clock },
  });
  const clients = await Promise.all(names.map((n) => s.login(n)));
  try {
    await Promise.all(clients.map(async (c, i) => {
      for (let k = 0; k < perSender; k++) {
        await c.send({ type: "say", text: `${names[i]} ${k}` });
      }
    }));
    const seen = await Promise.all(
      clients.map((c) => messages(c, names.length * perSender)),
    );
    const ids = seen.map((list) => list.map((m) => m.id));
    deepEqual(ids[1], ids[0], "bob saw the same order as alice");
    deepEqual(ids[2], ids[0], "carol saw the same order as alice");
    ok(ids[0]!.every((id, i, all) => i === 0 || id > all[i - 1]!), "ids increase");
    for (const m of seen[0]!) {
      equal(m.room, "lobby");
      ok(names.includes(m.from), `sender ${m.from} is named`);
      equal(m.ts, clock.now(), "ts is the server's time");
      ok(m.text.startsWith(`${m.from} `), "sender matches who said it");
    }
    for (const name of names) {
      const own = seen[0]!.filter((m) => m.from === name).map((m) => m.text);
      deepEqual(own, Array.from({ length: perSender }, (_, k) => `${name} ${k}`));
    }
    // The time is read when a message is said, not once.
    clock.advance(5_000);
    await clients[0]!.send({ type: "say", text: "later" });
    for (const c of clients) equal((await c.until(messageWith("later"))).ts, clock.now());
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
});

Deno.test("others see a join when a user logs in and a leave when they end", async () => {
  await using s = await startTestServer({ users: ["alice", "bob", "carol"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  const join = await alice.until(presenceOf("join", "bob"));
  equal(join.room, "lobby");
  const room = await bob.until(roomFrame("lobby"));
  deepEqual(room.members, ["alice", "bob"]);

  await bob.send({ type: "say", text: "end" });
  deepEqual(await byeOf(bob), { type: "bye", code: "end", message: "Goodbye, bob" });
  const leave = await alice.until(presenceOf("leave", "bob"));
  equal(leave.reason, "quit");

  await using carol = await s.login("carol");
  await carol.send({ type: "say", text: "/quit" });
  const carolBye = await byeOf(carol);
  ok(carolBye?.type === "bye");
  equal(carolBye.code, "end");
  equal((await alice.until(presenceOf("leave", "carol"))).reason, "quit");
});

Deno.test("/who lists the caller's room and /rooms lists rooms with counts", async () => {
  await using s = await startTestServer({ users: ["alice", "bob", "carol"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using carol = await s.login("carol");
  await carol.send({ type: "say", text: "/join dev" });
  await carol.until(roomFrame("dev"));

  await alice.send({ type: "say", text: "/who" });
  const who = await alice.until(isNotice);
  equal(who.text, "In #lobby (2): alice, bob");
  equal(who.level, "info");
  await alice.send({ type: "say", text: "/rooms" });
  // Members, online or not: carol joined #dev and is still a member of #lobby.
  equal((await alice.until(isNotice)).text, "Rooms: #dev (1), #lobby (3)");
  await carol.send({ type: "say", text: "/who" });
  equal((await carol.until(isNotice)).text, "In #dev (1): carol");
  ok(!bob.received.some(isNotice), "bob was told nothing");
});

Deno.test("/join moves a user between rooms and messages stay in their room", async () => {
  await using s = await startTestServer({ users: ["alice", "bob", "carol"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using carol = await s.login("carol");

  await bob.send({ type: "say", text: "/join #Dev" });
  const entered = await bob.until(roomFrame("dev"));
  deepEqual(entered.members, ["bob"]);
  const left = await alice.until(presenceOf("leave", "bob"));
  equal(left.room, "lobby");
  await carol.send({ type: "say", text: "/join dev" });
  equal((await bob.until(presenceOf("join", "carol"))).room, "dev");

  await alice.send({ type: "say", text: "only the lobby hears this" });
  await alice.until(messageWith("only the lobby hears this"));
  await bob.send({ type: "say", text: "only dev hears this" });
  const inDev = await carol.until(isMessage);
  deepEqual([inDev.text, inDev.room, inDev.from], ["only dev hears this", "dev", "bob"]);
  equal((await bob.until(isMessage)).text, "only dev hears this");
  await alice.send({ type: "say", text: "lobby again" });
  equal((await alice.until(isMessage)).text, "lobby again", "the lobby did not hear dev");
});

Deno.test("/msg reaches the two users only", async () => {
  await using s = await startTestServer({ users: ["alice", "bob", "carol"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using carol = await s.login("carol");

  await alice.send({ type: "say", text: "/msg Bob psst, just us" });
  const got = await bob.until((f) => f.type === "dm");
  ok(got.type === "dm");
  deepEqual([got.from, got.to, got.text], ["alice", "bob", "psst, just us"]);
  const copy = await alice.until((f) => f.type === "dm");
  deepEqual(copy, got, "the sender gets the same DM");

  await alice.send({ type: "say", text: "public marker" });
  await carol.until(messageWith("public marker"));
  ok(!carol.received.some((f) => f.type === "dm"), "carol saw no DM");

  await alice.send({ type: "say", text: "/msg dave hello?" });
  const notice = await alice.until(isNotice);
  deepEqual([notice.level, notice.text], ["error", "Cannot send: dave is not online"]);
});

Deno.test("/me is posted as an action", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await alice.send({ type: "say", text: "/me waves" });
  const action = await bob.until(isMessage);
  deepEqual([action.from, action.text, action.action], ["alice", "waves", true]);
});

Deno.test("a message over the length limit gets a notice and is not broadcast", async () => {
  await using s = await startTestServer({
    users: ["alice", "bob"],
    config: { maxMessageLength: 50 },
  });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await alice.send({ type: "say", text: "x".repeat(51) });
  const refusal = await alice.until(isNotice);
  deepEqual([refusal.level, refusal.text], [
    "error",
    "Cannot send: message is 51 characters, the limit is 50",
  ]);
  await alice.send({ type: "say", text: "y".repeat(50) });
  equal((await bob.until(isMessage)).text, "y".repeat(50), "bob's first message is the short one");
  equal((await alice.until(isMessage)).text, "y".repeat(50));
});

Deno.test("a flood gets one slow-down warning and later lines are dropped, others are unaffected", async () => {
  // The fake clock never moves, so no token comes back during the test.
  await using s = await startTestServer({
    users: ["alice", "bob", "carol"],
    config: { rateBurst: 3, ratePerSecond: 1 },
    deps: { clock: new FakeClock() },
  });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using carol = await s.login("carol");

  const flood = Array.from(
    { length: 8 },
    (_, i) => encodeFrame({ type: "say", text: `flood ${i}` }),
  );
  await alice.sendRaw(new Uint8Array(flood.flatMap((b) => [...b])));
  await alice.send({ type: "ping", id: 1 });
  await alice.until((f) => f.type === "pong");
  await sayAndSettle(alice, "still flooding", 2);
  const notices = alice.received.filter(isNotice);
  equal(notices.length, 1, "one warning per throttled streak");
  equal(notices[0]!.level, "warn");
  ok(notices[0]!.text.startsWith("Slow down"), notices[0]!.text);

  for (const text of ["bob 1", "bob 2", "bob 3"]) await bob.send({ type: "say", text });
  const seen = await messages(carol, 6);
  deepEqual(seen.map((m) => m.text), ["flood 0", "flood 1", "flood 2", "bob 1", "bob 2", "bob 3"]);
  await bob.until(messageWith("bob 3"));
  ok(!bob.received.some(isNotice), "bob was not warned");
});

Deno.test("end and /quit both get bye end", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  for (const [user, line] of [["alice", "end"], ["bob", "/QUIT"]] as const) {
    await using c = await s.login(user);
    await c.send({ type: "say", text: line });
    const bye = await byeOf(c);
    ok(bye?.type === "bye");
    equal(bye.code, "end", `${line} ends the session`);
  }
});

Deno.test("a user who is not an admin cannot /kick", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await bob.send({ type: "say", text: "/kick alice" });
  const refusal = await bob.until(isNotice);
  deepEqual([refusal.level, refusal.text], ["error", "Cannot run /kick: not allowed"]);
  await alice.send({ type: "say", text: "still here" });
  await bob.until(messageWith("still here"));
});

Deno.test("an admin's /kick closes the user with bye kicked and others see the leave", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"], admins: ["root"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using root = await s.login("root");
  await root.send({ type: "say", text: "/kick bob" });
  deepEqual(await byeOf(bob), { type: "bye", code: "kicked", message: "Kicked by root" });
  equal((await alice.until(presenceOf("leave", "bob"))).reason, "kicked");
  equal((await root.until(isNotice)).text, "Kicked bob");
});

Deno.test("an admin's /ban closes the user with bye banned and others see why", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"], admins: ["root"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using root = await s.login("root");
  await root.send({ type: "say", text: "/ban bob spam" });
  deepEqual(await byeOf(bob), { type: "bye", code: "banned", message: "Banned by root: spam" });
  equal((await alice.until(presenceOf("leave", "bob"))).reason, "banned: spam");
  equal((await root.until(isNotice)).text, "Banned bob");
});

Deno.test("a banned user logging in again gets bye banned and the server carries on", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"], admins: ["root"] });
  await using root = await s.login("root");
  await sayAndSettle(root, "/ban bob", 1);
  const banned = s.server.hub.banOf("bob")?.ts ?? 0;
  await using again = await s.client();
  const answer = await again.login("bob", passwordOf("bob"));
  const frames = [answer, ...await again.untilClosed()];
  deepEqual(frames.at(-1), {
    type: "bye",
    code: "banned",
    message: `You are banned from this server (banned by root on ${
      new Date(banned).toISOString().slice(0, 10)
    } ${new Date(banned).toISOString().slice(11, 16)} UTC)`,
  });
  ok(!frames.some((f) => f.type === "room"), "a banned user never enters a room");
  await using alice = await s.login("alice");
  await alice.send({ type: "say", text: "server still up" });
  await alice.until(messageWith("server still up"));
});

Deno.test({
  name: "a banned user is refused at login, without a welcome first",
  async fn() {
    await using s = await startTestServer({ users: ["bob"], admins: ["root"] });
    await using root = await s.login("root");
    await sayAndSettle(root, "/ban bob", 1);
    await using again = await s.client();
    const answer = await again.login("bob", passwordOf("bob"));
    const frames = [answer, ...await again.untilClosed()];
    ok(!frames.some((f) => f.type === "welcome"), JSON.stringify(frames));
    equal(frames.at(-1)?.type, "bye");
  },
});

Deno.test("after /unban the user can log in again", async () => {
  await using s = await startTestServer({ users: ["bob"], admins: ["root"] });
  await using root = await s.login("root");
  await sayAndSettle(root, "/ban bob", 1);
  await root.send({ type: "say", text: "/unban bob" });
  equal((await root.until((f) => isNotice(f) && f.text.startsWith("Unbanned"))).type, "notice");
  await using bob = await s.login("bob");
  await bob.until(roomFrame("lobby"));
});

Deno.test("messages said before a restart are in the room history after it, and ids keep increasing", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  const before: number[] = [];
  {
    await using alice = await s.login("alice");
    for (const text of ["before 1", "before 2"]) {
      await alice.send({ type: "say", text });
      before.push((await alice.until(messageWith(text))).id);
    }
  }
  await s.stop();
  await using restarted = await startTestServer({ dir: s.dir, users: ["alice"] });
  notEqual(restarted.port, 0);
  await using alice = await restarted.login("alice");
  const room = await alice.until(roomFrame("lobby"));
  deepEqual(
    room.history.map((m) => [m.id, m.from, m.text]),
    [[before[0], "alice", "before 1"], [before[1], "alice", "before 2"]],
  );
  await alice.send({ type: "say", text: "after" });
  const after = await alice.until(messageWith("after"));
  ok(after.id > before[1]!, `id ${after.id} follows ${before[1]}`);
});

Deno.test("a graceful shutdown says bye shutdown to every client and closes them", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  const done = s.server.shutdown("bye all");
  const [a, b] = await Promise.all([alice.untilClosed(), bob.untilClosed()]);
  await done;
  for (const frames of [a, b]) {
    deepEqual(frames.at(-1), { type: "bye", code: "shutdown", message: "bye all" });
    ok(!frames.some((f) => f.type === "leave"), "no leave storm on shutdown");
  }
});

Deno.test("an admin's /shutdown stops the server and everyone gets bye shutdown", async () => {
  await using s = await startTestServer({ users: ["alice"], admins: ["root"] });
  await using alice = await s.login("alice");
  await using root = await s.login("root");
  await root.send({ type: "say", text: "/shutdown" });
  const bye = await byeOf(alice);
  ok(bye?.type === "bye");
  deepEqual([bye.code, bye.message], ["shutdown", "Server shutting down (requested by root)"]);
  ok((await byeOf(root))?.type === "bye");
  await s.server.closed;
});
