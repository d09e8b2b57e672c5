/**
 * Rooms cannot pile up: a room goes when its last member parts (never
 * #lobby), an account creates a bounded number of rooms per hour, and the
 * `/rooms` answer is bounded however many rooms there are.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MemoryHistory } from "../../lib/chat/memory_history.ts";
import { SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import { MAX_LISTED_ROOMS } from "../../lib/chat/hub.ts";
import type { ChatEvent } from "../../lib/chat/message.ts";
import { RoomQuota, ROOMS_CREATED_PER_HOUR } from "../../lib/chat/room_quota.ts";
import { FakeMember, makeHub, tempDir } from "./_fake_member.ts";

/** A member that sees all its rooms (protocol version 2). */
class WideMember extends FakeMember {
  readonly view = "all" as const;
  constructor(name: string, account: string) {
    super(name, "user", account);
  }
  of<K extends ChatEvent["kind"]>(kind: K): Extract<ChatEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<ChatEvent, { kind: K }> => e.kind === kind);
  }
}

const NO_RATE = { burst: 100_000, perSecond: 1 };

Deno.test("join and part of junk rooms leaves no room behind, so one account cannot use up the room cap", () => {
  const history = new MemoryHistory();
  const { hub } = makeHub({ history, maxRooms: 50, rate: NO_RATE, roomsCreatedPerHour: 1000 });
  const m = hub.enter(new FakeMember("mallory", "user", "id-m"));
  for (let i = 0; i < 200; i++) {
    assert.equal(m.request({ kind: "join", room: `junk${i}` }).ok, true, `junk${i}`);
    assert.equal(m.request({ kind: "part", room: `junk${i}` }).ok, true);
  }
  assert.equal(history.roomCount(), 1, "only #lobby is left");
  const b = hub.enter(new FakeMember("bob", "user", "id-b"));
  assert.equal(b.request({ kind: "join", room: "dev" }).ok, true, "bob can still make a room");
});

Deno.test("#lobby is never deleted, and a room with members left stays with its topic", () => {
  const history = new MemoryHistory();
  const { hub } = makeHub({ history, rate: NO_RATE });
  const a = hub.enter(new WideMember("ann", "id-ann"));
  const b = hub.enter(new WideMember("bob", "id-bob"));
  a.request({ kind: "part", room: "lobby" });
  b.request({ kind: "part", room: "lobby" });
  assert.notEqual(history.room("lobby"), undefined);
  a.request({ kind: "join", room: "dev" });
  b.request({ kind: "join", room: "dev" });
  a.request({ kind: "topic", room: "dev", text: "release" });
  a.request({ kind: "part", room: "dev" });
  assert.equal(history.room("dev")?.topic, "release", "bob is still in #dev");
  b.request({ kind: "part", room: "dev" });
  assert.equal(history.room("dev"), undefined);
  a.request({ kind: "join", room: "dev" });
  assert.equal(history.room("dev")?.topic, "", "a room made again starts without the old topic");
});

Deno.test("a deleted room is gone from the SQLite store too, with its read markers, and stays gone after a restart", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "history.db");
  {
    using history = new SqliteHistory(file);
    const { hub } = makeHub({ history, rate: NO_RATE });
    const a = hub.enter(new WideMember("ann", "id-ann"));
    a.request({ kind: "join", room: "tmp" });
    a.request({ kind: "topic", room: "tmp", text: "old topic" });
    const said = a.request({ kind: "say", room: "tmp", text: "hi" });
    assert.ok(said.ok && said.messageId !== undefined);
    a.request({ kind: "read", room: "tmp", lastRead: said.messageId });
    assert.equal(history.lastRead("id-ann", "#tmp"), said.messageId);
    a.request({ kind: "part", room: "tmp" });
    assert.equal(history.lastRead("id-ann", "#tmp"), 0, "the marker went with the room");
    hub.shutdown("bye");
  }
  using history = new SqliteHistory(file);
  assert.deepEqual(history.rooms().map((r) => r.name), ["lobby"]);
  assert.equal(history.deleteRoom("tmp"), false);
});

Deno.test("an account creates at most ROOMS_CREATED_PER_HOUR rooms an hour; joining existing rooms is not limited", () => {
  const { hub, clock } = makeHub({ rate: NO_RATE });
  const m = hub.enter(new FakeMember("mallory", "user", "id-m"));
  for (let i = 0; i < ROOMS_CREATED_PER_HOUR; i++) {
    assert.equal(m.request({ kind: "join", room: `r${i}` }).ok, true);
    m.request({ kind: "part", room: `r${i}` });
  }
  const refused = m.request({ kind: "join", room: "one-more" });
  assert.equal(refused.ok, false);
  assert.equal(
    !refused.ok ? refused.message : "",
    `Cannot create #one-more: you have created ${ROOMS_CREATED_PER_HOUR} rooms in the last hour, join an existing one or wait`,
  );
  const b = hub.enter(new FakeMember("bob", "user", "id-b"));
  assert.equal(b.request({ kind: "join", room: "dev" }).ok, true, "another account is not held up");
  assert.equal(m.request({ kind: "join", room: "dev" }).ok, true, "an existing room is open");
  clock.advance(3_600_000 / ROOMS_CREATED_PER_HOUR);
  assert.equal(m.request({ kind: "join", room: "one-more" }).ok, true, "a slot comes back");
});

Deno.test("RoomQuota keeps state for at most maxEntries accounts, forgetting full buckets first", () => {
  let now = 0;
  const quota = new RoomQuota({ now: () => now }, { perHour: 2, maxEntries: 3 });
  quota.take("a");
  quota.take("a");
  for (let i = 0; i < 100; i++) quota.take(`other${i}`);
  assert.ok(quota.size <= 3, String(quota.size));
  now += 3_600_000;
  assert.equal(quota.take("fresh"), true);
  assert.ok(quota.size <= 3);
  assert.throws(() => new RoomQuota({ now: () => now }, { perHour: 0 }), RangeError);
});

Deno.test("/rooms lists the MAX_LISTED_ROOMS rooms with the most members and counts the rest, in v2 data and v1 text", () => {
  const history = new MemoryHistory();
  const total = MAX_LISTED_ROOMS + 50;
  for (let i = 0; i < total; i++) {
    const name = `r${String(i).padStart(4, "0")}`;
    history.ensureRoom(name, 0);
    history.setTopic(name, "t".repeat(200));
    history.addMember(`id-${i}`, name);
  }
  history.addMember("id-x", "r0249");
  history.addMember("id-y", "r0249");
  const { hub } = makeHub({ history, rate: NO_RATE });
  const wide = new WideMember("ann", "id-ann");
  const a = hub.enter(wide);
  a.request({ kind: "say", room: "lobby", text: "/rooms" });
  const listing = wide.of("rooms").at(-1);
  assert.equal(listing?.rooms.length, MAX_LISTED_ROOMS);
  assert.equal(listing?.more, total + 1 - MAX_LISTED_ROOMS, "lobby counts too");
  const names = listing?.rooms.map((r) => r.name) ?? [];
  assert.ok(names.includes("r0249") && names.includes("lobby"), "the fullest rooms are listed");
  assert.deepEqual(names, names.toSorted(), "sorted by name");
  const bytes = JSON.stringify(listing).length;
  assert.ok(bytes < 64 * 1024, `the answer is ${bytes} bytes`);

  const old = new FakeMember("old", "user", "id-old");
  const o = hub.enter(old);
  o.input("/rooms");
  const text = old.lastNotice();
  assert.match(text, new RegExp(` and ${total + 1 - MAX_LISTED_ROOMS} more$`));
  assert.equal(text.split(", ").length, MAX_LISTED_ROOMS);
});

Deno.test("/rooms with few rooms lists them all and says nothing more", () => {
  const { hub } = makeHub();
  const wide = new WideMember("ann", "id-ann");
  const a = hub.enter(wide);
  a.request({ kind: "say", room: "lobby", text: "/rooms" });
  assert.deepEqual(wide.of("rooms").at(-1), {
    kind: "rooms",
    rooms: [{ name: "lobby", topic: "", members: 1 }],
  });
});

Deno.test("rooms left empty by an earlier version are deleted when the hub starts; #lobby and rooms with members stay", () => {
  const history = new MemoryHistory();
  for (const name of ["junk1", "junk2", "dev"]) history.ensureRoom(name, 0);
  history.addMember("id-ann", "dev");
  makeHub({ history });
  assert.deepEqual(history.rooms().map((r) => r.name), ["dev", "lobby"]);
});
