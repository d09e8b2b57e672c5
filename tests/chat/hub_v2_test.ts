import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import type { ChatEvent, RoomEntered } from "../../lib/chat/message.ts";
import { FakeMember, makeHub, tempDir } from "./_fake_member.ts";

/** A member that sees every room of its account (protocol version 2). */
class WideMember extends FakeMember {
  readonly view = "all" as const;
  readonly resume?: Record<string, number>;

  constructor(name: string, account: string, resume?: Record<string, number>) {
    super(name, "user", account);
    if (resume !== undefined) this.resume = resume;
  }

  rooms(): RoomEntered[] {
    return this.events.filter((e): e is RoomEntered => e.kind === "room");
  }

  room(name: string): RoomEntered | undefined {
    return this.rooms().filter((r) => r.room === name).at(-1);
  }

  of<K extends ChatEvent["kind"]>(kind: K): Extract<ChatEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<ChatEvent, { kind: K }> => e.kind === kind);
  }
}

Deno.test("an all-rooms member gets a room event per membership, its conversations, then ready", () => {
  const { hub } = makeHub();
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  assert.deepEqual(a.request({ kind: "join", room: "dev" }), { ok: true });
  a.leave();
  const again = new WideMember("ann", "id-ann");
  hub.enter(again);
  assert.deepEqual(again.events.map((e) => e.kind), ["room", "room", "conversations", "ready"]);
  assert.deepEqual(again.rooms().map((r) => r.room), ["dev", "lobby"]);
});

Deno.test("two sessions of one account both get a room message and a DM; /who lists the user once", () => {
  const { hub } = makeHub();
  const phone = new WideMember("ann", "id-ann");
  const laptop = new WideMember("ann", "id-ann");
  hub.enter(phone);
  const l = hub.enter(laptop);
  const bob = new WideMember("bob", "id-bob");
  const b = hub.enter(bob);
  b.request({ kind: "say", room: "lobby", text: "hi ann" });
  b.request({ kind: "dm", to: "ann", text: "psst" });
  for (const session of [phone, laptop]) {
    assert.deepEqual(session.texts(), ["hi ann"]);
    assert.deepEqual(session.dms().map((d) => d.text), ["psst"]);
  }
  l.request({ kind: "say", room: "lobby", text: "/who", ref: "w1" });
  const who = laptop.of("who").at(-1);
  assert.deepEqual(who?.users.map((u) => u.name), ["ann", "bob"]);
  assert.equal(who?.ref, "w1");
  assert.deepEqual(phone.of("who"), [], "answers go to the asking session only");
});

Deno.test("past the session limit the oldest session is closed with too_many_sessions", () => {
  const { hub } = makeHub({ maxSessionsPerUser: 2 });
  const first = new WideMember("ann", "id-ann");
  const second = new WideMember("ann", "id-ann");
  const third = new WideMember("ann", "id-ann");
  hub.enter(first);
  hub.enter(second);
  hub.enter(third);
  assert.equal(first.closed?.code, "too_many_sessions");
  assert.match(first.closed?.message ?? "", /more than 2 devices/);
  assert.equal(second.closed, undefined);
  assert.equal(third.closed, undefined);
});

Deno.test("presence is online while any session is", () => {
  const { hub } = makeHub();
  const bob = new WideMember("bob", "id-bob");
  hub.enter(bob);
  const one = hub.enter(new WideMember("ann", "id-ann"));
  const two = hub.enter(new WideMember("ann", "id-ann"));
  one.leave();
  two.leave();
  assert.deepEqual(bob.of("presence").map((p) => `${p.user} ${p.online}`), [
    "ann true",
    "ann false",
  ]);
});

Deno.test("resume sends only newer history, flagged truncated when more was missed", () => {
  const { hub } = makeHub({ historyLimit: 3 });
  const bob = hub.enter(new WideMember("bob", "id-bob"));
  for (let i = 1; i <= 4; i++) bob.request({ kind: "say", room: "lobby", text: `m${i}` });
  const seen = new WideMember("ann", "id-ann", { lobby: 3 });
  hub.enter(seen).leave();
  assert.deepEqual(seen.room("lobby")?.history.map((m) => m.text), ["m4"]);
  assert.equal(seen.room("lobby")?.truncated, false);
  for (let i = 5; i <= 9; i++) bob.request({ kind: "say", room: "lobby", text: `m${i}` });
  const behind = new WideMember("ann", "id-ann", { lobby: 4 });
  hub.enter(behind);
  assert.deepEqual(behind.room("lobby")?.history.map((m) => m.text), ["m7", "m8", "m9"]);
  assert.equal(behind.room("lobby")?.truncated, true);
});

Deno.test("unread counts and mention flags come back at login; reading on one session clears the other", () => {
  const { hub } = makeHub();
  const a = hub.enter(new WideMember("ann", "id-ann"));
  a.request({ kind: "join", room: "dev" });
  a.leave();
  const bob = hub.enter(new WideMember("bob", "id-bob"));
  bob.request({ kind: "join", room: "dev" });
  bob.request({ kind: "say", room: "lobby", text: "morning" });
  bob.request({ kind: "say", room: "lobby", text: "annual report is due" });
  bob.request({ kind: "say", room: "dev", text: "@Ann can you look?" });
  const phone = new WideMember("ann", "id-ann");
  const laptop = new WideMember("ann", "id-ann");
  const p = hub.enter(phone);
  hub.enter(laptop);
  const lobby = phone.room("lobby")!;
  assert.deepEqual([lobby.unread, lobby.mentioned], [2, false]);
  const dev = phone.room("dev")!;
  assert.deepEqual([dev.unread, dev.mentioned], [1, true]);
  const lastId = dev.history.at(-1)!.id;
  assert.deepEqual(p.request({ kind: "read", room: "dev", lastRead: lastId }), { ok: true });
  assert.deepEqual(laptop.of("read"), [{ kind: "read", room: "dev", lastRead: lastId }]);
  assert.deepEqual(phone.of("read"), [], "the reading session is not told");
  const later = new WideMember("ann", "id-ann");
  hub.enter(later);
  assert.deepEqual([later.room("dev")?.unread, later.room("dev")?.lastRead], [0, lastId]);
});

Deno.test("a read marker only moves forward and never past the newest id", () => {
  const { hub } = makeHub();
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  const posted = a.request({ kind: "say", room: "lobby", text: "one" });
  assert.ok(posted.ok && posted.messageId === 1);
  const future = a.request({ kind: "read", room: "lobby", lastRead: 99 });
  assert.equal(future.ok, false);
  assert.equal(a.request({ kind: "read", room: "lobby", lastRead: 1 }).ok, true);
  assert.equal(a.request({ kind: "read", room: "lobby", lastRead: 0 }).ok, true);
});

Deno.test("DMs are conversations: listed with unread counts at login, paged on demand", () => {
  const { hub } = makeHub({
    accountOf: (name) =>
      name.toLowerCase() === "ann" ? { name: "ann", account: "id-ann" } : undefined,
  });
  const b = hub.enter(new WideMember("bob", "id-bob"));
  assert.equal(b.request({ kind: "dm", to: "ann", text: "while you were out" }).ok, true);
  assert.equal(b.request({ kind: "dm", to: "ANN", text: "second" }).ok, true);
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  assert.deepEqual(ann.of("conversations")[0]?.conversations, [
    { with: "bob", lastId: 2, lastRead: 0, unread: 2, unreadCapped: false },
  ]);
  a.request({ kind: "history", with: "bob", ref: 7 });
  const page = ann.of("history")[0]!;
  assert.deepEqual(page.messages.map((m) => m.text), ["while you were out", "second"]);
  assert.deepEqual([page.with, page.truncated, page.ref], ["bob", false, 7]);
});

Deno.test("paging back through 500 messages returns each once, oldest first per page", () => {
  const { hub } = makeHub({ historyLimit: 50, rate: { burst: 1000, perSecond: 1 } });
  const bob = hub.enter(new WideMember("bob", "id-bob"));
  for (let i = 1; i <= 500; i++) bob.request({ kind: "say", room: "lobby", text: `m${i}` });
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  const seen: string[] = [];
  let before = ann.room("lobby")!.history[0]!.id;
  seen.unshift(...ann.room("lobby")!.history.map((m) => m.text));
  for (;;) {
    a.request({ kind: "history", room: "lobby", before, limit: 50 });
    const page = ann.of("history").at(-1)!;
    seen.unshift(...page.messages.map((m) => m.text));
    if (!page.truncated) break;
    before = page.messages[0]!.id;
  }
  assert.deepEqual(seen, Array.from({ length: 500 }, (_, i) => `m${i + 1}`));
});

Deno.test("a message may hold up to 50 lines; CRLF is stored as LF; a one-room member sees it on one line", () => {
  const { hub } = makeHub();
  const old = new FakeMember("old", "user", "id-old");
  hub.enter(old);
  const a = hub.enter(new WideMember("ann", "id-ann"));
  assert.equal(a.request({ kind: "say", room: "lobby", text: "line 1\r\nline 2" }).ok, true);
  assert.deepEqual(old.texts(), ["line 1 \u23ce line 2"]);
  const tooMany = a.request({ kind: "say", room: "lobby", text: "x\n".repeat(50) + "x" });
  assert.equal(tooMany.ok, false);
  assert.match(!tooMany.ok ? tooMany.message : "", /51 lines, the limit is 50/);
  const bell = a.request({ kind: "say", room: "lobby", text: "ding\u0007" });
  assert.equal(bell.ok, false);
  const loneCr = a.request({ kind: "say", room: "lobby", text: "a\rb" });
  assert.equal(loneCr.ok, false);
  old.clear();
  hub.enter(new FakeMember("old2", "user", "id-old2")).input("no\nnewlines in v1");
  assert.deepEqual(old.texts(), []);
});

Deno.test("a refused request with a ref is returned, not told; rate limiting says when to retry", () => {
  const { hub } = makeHub({ rate: { burst: 1, perSecond: 1 } });
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  ann.clear();
  const refused = a.request({ kind: "say", room: "lobby", text: "/kick bob", ref: "k" });
  assert.deepEqual(refused, {
    ok: false,
    code: "refused",
    message: "Cannot run /kick: not allowed",
  });
  assert.deepEqual(ann.notices(), []);
  const limited = a.request({ kind: "say", room: "lobby", text: "hi", ref: "h" });
  assert.equal(!limited.ok && limited.code, "rate_limited");
  assert.equal(!limited.ok && limited.retryAfterMs, 1000);
});

Deno.test("/away shows in /who and as presence; /away alone is back", () => {
  const { hub, clock } = makeHub();
  const bob = new WideMember("bob", "id-bob");
  const b = hub.enter(bob);
  const a = hub.enter(new WideMember("ann", "id-ann"));
  a.request({ kind: "away", text: "lunch" });
  assert.deepEqual(bob.of("presence").at(-1), {
    kind: "presence",
    user: "ann",
    online: true,
    away: "lunch",
    ts: clock.now(),
  });
  b.request({ kind: "say", room: "lobby", text: "/who" });
  assert.deepEqual(bob.of("who").at(-1)?.users, [
    { name: "ann", role: "user", away: "lunch" },
    { name: "bob", role: "user" },
  ]);
  a.request({ kind: "say", room: "lobby", text: "/away" });
  assert.equal(bob.of("presence").at(-1)?.away, undefined);
});

Deno.test("/topic sets a room's topic for everyone in it and /rooms lists it with member counts", () => {
  const { hub } = makeHub();
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  a.request({ kind: "topic", room: "lobby", text: "  be nice  " });
  assert.equal(ann.of("topic").at(-1)?.text, "be nice");
  a.request({ kind: "join", room: "empty" });
  a.request({ kind: "part", room: "empty" });
  a.request({ kind: "say", room: "lobby", text: "/rooms" });
  assert.deepEqual(ann.of("rooms").at(-1)?.rooms, [
    { name: "lobby", topic: "be nice", members: 1 },
  ], "a room parted by its last member is gone");
});

Deno.test("a one-room member sees only its current room; /part moves it back to the lobby", () => {
  const { hub } = makeHub();
  const old = new FakeMember("old", "user", "id-old");
  const o = hub.enter(old);
  const a = hub.enter(new WideMember("ann", "id-ann"));
  o.input("/join dev");
  a.request({ kind: "join", room: "dev" });
  a.request({ kind: "say", room: "lobby", text: "in the lobby" });
  a.request({ kind: "say", room: "dev", text: "in dev" });
  assert.deepEqual(old.texts(), ["in dev"]);
  o.input("/part");
  assert.equal(o.room, "lobby");
  assert.equal(old.lastRoom()?.room, "lobby");
  a.request({ kind: "say", room: "lobby", text: "back" });
  assert.deepEqual(old.texts(), ["in dev", "back"]);
  assert.ok(
    old.events.every((e) => ["room", "message", "join", "leave", "notice", "dm"].includes(e.kind)),
  );
});

Deno.test("/part and /join persist across a restart of the hub", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "history.db");
  {
    using history = new SqliteHistory(file);
    const { hub } = makeHub({ history });
    const a = hub.enter(new WideMember("ann", "id-ann"));
    a.request({ kind: "join", room: "dev" });
    a.request({ kind: "join", room: "ops" });
    a.request({ kind: "part", room: "lobby" });
    hub.shutdown("bye");
  }
  using history = new SqliteHistory(file);
  const { hub } = makeHub({ history });
  const ann = new WideMember("ann", "id-ann");
  hub.enter(ann);
  assert.deepEqual(ann.rooms().map((r) => r.room), ["dev", "ops"]);
  const old = new FakeMember("ann", "user", "id-ann");
  const o = hub.enter(old);
  assert.equal(o.room, "dev", "a one-room session starts in the first of its rooms");
});

Deno.test("with no stored history, messages go out live, nothing is replayed or paged, ids still grow", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "history.db");
  {
    using history = new SqliteHistory(file, { storeMessages: false });
    const { hub } = makeHub({ history, retentionDays: 0 });
    const bob = new WideMember("bob", "id-bob");
    hub.enter(bob);
    const a = hub.enter(new WideMember("ann", "id-ann"));
    a.request({ kind: "say", room: "lobby", text: "live only" });
    assert.deepEqual(bob.texts(), ["live only"]);
    assert.equal(a.request({ kind: "read", room: "lobby", lastRead: 1 }).ok, true);
    hub.shutdown("bye");
  }
  using history = new SqliteHistory(file, { storeMessages: false });
  const { hub } = makeHub({ history, retentionDays: 0 });
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  assert.deepEqual([ann.room("lobby")?.history, ann.room("lobby")?.lastRead], [[], 1]);
  a.request({ kind: "history", room: "lobby" });
  assert.deepEqual(ann.of("history")[0]?.messages, []);
  const next = a.request({ kind: "say", room: "lobby", text: "again" });
  assert.ok(next.ok && next.messageId === 2);
});

Deno.test("rooms are bounded: 50 per account, maxRooms in all", () => {
  const { hub } = makeHub({
    maxRooms: 60,
    rate: { burst: 1000, perSecond: 1 },
    roomsCreatedPerHour: 100,
  });
  const a = hub.enter(new WideMember("ann", "id-ann"));
  for (let i = 1; i < 50; i++) assert.equal(a.request({ kind: "join", room: `r${i}` }).ok, true);
  const fifty = a.request({ kind: "join", room: "one-more" });
  assert.match(!fifty.ok ? fifty.message : "", /you are in 50 rooms/);
  const b = hub.enter(new WideMember("bob", "id-bob"));
  for (let i = 50; i < 60; i++) assert.equal(b.request({ kind: "join", room: `r${i}` }).ok, true);
  const full = b.request({ kind: "join", room: "r61" });
  assert.match(!full.ok ? full.message : "", /the server has 60 rooms/);
  assert.equal(b.request({ kind: "join", room: "r1" }).ok, true, "existing rooms stay open");
});

Deno.test("reading a DM conversation on one session clears its unread count at the next login", () => {
  const { hub } = makeHub();
  const b = hub.enter(new WideMember("bob", "id-bob"));
  const phone = new WideMember("ann", "id-ann");
  const laptop = new WideMember("ann", "id-ann");
  const p = hub.enter(phone);
  hub.enter(laptop);
  const sent = b.request({ kind: "dm", to: "ann", text: "ping" });
  assert.ok(sent.ok && sent.messageId !== undefined);
  assert.equal(p.request({ kind: "read", with: "BOB", lastRead: sent.messageId }).ok, true);
  assert.deepEqual(laptop.of("read"), [{ kind: "read", with: "bob", lastRead: sent.messageId }]);
  const later = new WideMember("ann", "id-ann");
  hub.enter(later);
  assert.deepEqual(later.of("conversations")[0]?.conversations, [
    {
      with: "bob",
      lastId: sent.messageId,
      lastRead: sent.messageId,
      unread: 0,
      unreadCapped: false,
    },
  ]);
});

Deno.test("after parting every room a line without a room is refused, /join still works", () => {
  const { hub } = makeHub();
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  assert.equal(a.request({ kind: "part", room: "lobby" }).ok, true);
  const lost = a.request({ kind: "say", text: "anyone?" });
  assert.match(!lost.ok ? lost.message : "", /in no room/);
  assert.equal(a.request({ kind: "say", text: "/join dev" }).ok, true);
  assert.equal(a.request({ kind: "say", text: "here" }).ok, true);
  assert.deepEqual(ann.texts(), ["here"]);
});

Deno.test("a one-room member is told with a notice when the topic of its current room changes", () => {
  const { hub } = makeHub();
  const old = new FakeMember("old", "user", "id-old");
  const o = hub.enter(old);
  const elsewhere = new FakeMember("far", "user", "id-far");
  const f = hub.enter(elsewhere);
  f.input("/join dev");
  const a = hub.enter(new WideMember("ann", "id-ann"));
  a.request({ kind: "topic", room: "lobby", text: "be nice" });
  a.request({ kind: "topic", room: "lobby", text: "" });
  assert.deepEqual(old.notices().map((n) => [n.level, n.text]), [
    ["info", "ann set the topic of #lobby: be nice"],
    ["info", "ann cleared the topic of #lobby"],
  ]);
  assert.ok(old.events.every((e) => e.kind !== "topic"), "no version 2 frame");
  assert.ok(
    elsewhere.notices().every((n) => !n.text.includes("topic")),
    "not told of a room it does not show",
  );
  // The one-room member who sets it gets its answer, once.
  o.input("/topic tabs or spaces");
  assert.deepEqual(old.notices().map((n) => n.text).slice(2), ["Topic of #lobby: tabs or spaces"]);
});

Deno.test("//text posts the message /text in both views; /text alone still runs a command", () => {
  const { hub } = makeHub();
  const ann = new WideMember("ann", "id-ann");
  const a = hub.enter(ann);
  const bob = new FakeMember("bob");
  const b = hub.enter(bob);
  assert.deepEqual(a.request({ kind: "say", room: "lobby", text: "//shrug not a command" }), {
    ok: true,
    messageId: 1,
  });
  b.input("//me too");
  b.input("/me waves");
  assert.deepEqual(ann.texts(), ["/shrug not a command", "/me too", "waves"]);
  assert.deepEqual(bob.texts(), ["/shrug not a command", "/me too", "waves"]);
  assert.equal(ann.events.filter((e) => e.kind === "notice").length, 0);
});
