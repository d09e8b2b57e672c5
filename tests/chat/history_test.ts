import assert from "node:assert/strict";
import { join } from "node:path";
import type { HistoryStore } from "../../lib/chat/history.ts";
import { MemoryHistory } from "../../lib/chat/memory_history.ts";
import { SCHEMA_VERSION, SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import type { DirectMessage, RoomMessage } from "../../lib/chat/message.ts";
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./_fake_member.ts";

function said(id: number, room: string, text: string, ts = id): RoomMessage {
  return { kind: "message", id, room, from: "ann", text, ts };
}

function dm(id: number, from: string, to: string, ts = id): DirectMessage {
  return { kind: "dm", id, from, to, text: `${from}->${to}`, ts };
}

/** The accounts of a DM in these tests: `id-` and the lowercased name. */
function accounts(from: string, to: string) {
  return { from: `id-${from.toLowerCase()}`, to: `id-${to.toLowerCase()}` };
}

/** Append a DM with its accounts. */
function appendDm(history: HistoryStore, message: DirectMessage): void {
  history.append(message, accounts(message.from, message.to));
}

/** Run the same behaviour against both stores. */
function bothStores(
  name: string,
  fn: (history: HistoryStore) => void,
): void {
  Deno.test(`MemoryHistory ${name}`, () => fn(new MemoryHistory()));
  Deno.test(`SqliteHistory ${name}`, () => {
    using history = new SqliteHistory(":memory:");
    fn(history);
  });
}

bothStores("returns the last messages of a room oldest first", (history) => {
  for (let id = 1; id <= 60; id++) history.append(said(id, "lobby", `m${id}`));
  history.append(said(61, "dev", "elsewhere"));
  const recent = history.recent("lobby", 50);
  assert.equal(recent.length, 50);
  assert.equal(recent[0]?.text, "m11");
  assert.equal(recent.at(-1)?.text, "m60");
  assert.deepEqual(history.recent("dev", 50).map((m) => m.text), [
    "elsewhere",
  ]);
  assert.deepEqual(history.recent("nowhere", 50), []);
});

bothStores("keeps action and bot flags", (history) => {
  history.append({ ...said(1, "lobby", "waves"), action: true });
  history.append({ ...said(2, "lobby", "joke"), from: "JokeBot", bot: true });
  history.append(said(3, "lobby", "plain"));
  const [action, bot, plain] = history.recent("lobby", 10);
  assert.equal(action?.action, true);
  assert.equal(bot?.bot, true);
  assert.equal("action" in plain! || "bot" in plain!, false);
});

bothStores("shows DMs only to their two accounts", (history) => {
  appendDm(history, dm(1, "ann", "bob"));
  appendDm(history, dm(2, "bob", "cat"));
  appendDm(history, dm(3, "Cat", "Ann"));
  history.append(said(4, "lobby", "public"));
  assert.deepEqual(history.recentDirect("id-ann", 10).map((m) => m.id), [1, 3]);
  assert.deepEqual(history.recentDirect("id-bob", 10).map((m) => m.id), [1, 2]);
  assert.deepEqual(history.recentDirect("id-dan", 10), []);
  assert.deepEqual(history.recentDirect("id-cat", 1).map((m) => m.id), [3]);
  assert.deepEqual(history.recent("lobby", 10).map((m) => m.id), [4]);
});

bothStores(
  "keys DMs by account, not name: a new account under an old name gets none, nor DMs stored without accounts",
  (history) => {
    history.append(dm(1, "bob", "erin"), { from: "id-bob", to: "id-erin-1" });
    history.append(dm(2, "bob", "erin")); // no accounts: never read back
    assert.deepEqual(history.recentDirect("id-erin-1", 10).map((m) => m.id), [1]);
    assert.deepEqual(history.recentDirect("id-erin-2", 10), []);
    assert.deepEqual(history.recentDirect("erin", 10), []);
    assert.deepEqual(history.recentDirect("id-bob", 10).map((m) => m.id), [1]);
  },
);

bothStores(
  "forgetAccount() drops an account's memberships and its read markers, nobody else's",
  (history) => {
    history.ensureRoom("lobby", 0);
    history.ensureRoom("dev", 0);
    for (const account of ["id-ann", "id-bob"]) {
      history.addMember(account, "lobby");
      history.addMember(account, "dev");
      history.markRead(account, "#lobby", 5);
    }
    history.markRead("id-ann", "@id-bob", 7);
    history.markRead("id-bob", "@id-ann", 8);
    assert.equal(history.forgetAccount("id-ann"), 4);
    assert.deepEqual(history.roomsOf("id-ann"), []);
    assert.equal(history.lastRead("id-ann", "#lobby"), 0);
    assert.equal(history.lastRead("id-ann", "@id-bob"), 0);
    assert.deepEqual(history.roomsOf("id-bob"), ["dev", "lobby"]);
    assert.equal(history.lastRead("id-bob", "#lobby"), 5);
    assert.equal(history.lastRead("id-bob", "@id-ann"), 8, "the other side's marker stays");
    assert.deepEqual(history.rooms().map((r) => [r.name, r.members]), [["dev", 1], ["lobby", 1]]);
    assert.equal(history.forgetAccount("id-ann"), 0);
  },
);

bothStores("bans case-insensitively and unbans", (history) => {
  history.ban("Mallory", 0);
  history.ban("mallory", 1);
  assert.equal(history.isBanned("MALLORY"), true);
  assert.equal(history.unban("mallory"), true);
  assert.equal(history.unban("mallory"), false);
  assert.equal(history.isBanned("Mallory"), false);
});

bothStores("prunes old messages but keeps ids increasing", (history) => {
  history.append(said(1, "lobby", "old", 100));
  appendDm(history, dm(2, "ann", "bob", 100));
  history.append(said(3, "lobby", "new", 300));
  assert.equal(history.prune(200), 2);
  assert.deepEqual(history.recent("lobby", 10).map((m) => m.text), ["new"]);
  assert.deepEqual(history.recentDirect("id-ann", 10), []);
  assert.equal(history.prune(1000), 1);
  assert.equal(history.nextId(), 4);
});

Deno.test("SqliteHistory keeps messages, bans and ids across reopening", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  {
    using history = new SqliteHistory(path);
    assert.equal(history.nextId(), 1);
    history.append(said(1, "lobby", "first"));
    appendDm(history, dm(2, "ann", "bob"));
    history.ban("mallory", 5);
  }
  {
    using history = new SqliteHistory(path);
    assert.deepEqual(history.recent("lobby", 50).map((m) => m.text), [
      "first",
    ]);
    assert.equal(history.recentDirect("id-bob", 50).length, 1);
    assert.equal(history.isBanned("mallory"), true);
    assert.equal(history.nextId(), 3);
    history.prune(Number.MAX_SAFE_INTEGER);
  }
  {
    using history = new SqliteHistory(path, { synchronous: "FULL" });
    assert.equal(history.nextId(), 3);
  }
});

Deno.test("SqliteHistory uses WAL journaling on a file", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  using history = new SqliteHistory(path);
  history.append(said(1, "lobby", "x"));
  const files = [];
  for await (const entry of Deno.readDir(dir.path)) files.push(entry.name);
  assert.ok(files.includes("history.db-wal"), files.join(","));
});

Deno.test("MemoryHistory stays within its bound", () => {
  const history = new MemoryHistory({ maxMessages: 4 });
  for (let id = 1; id <= 100; id++) history.append(said(id, "lobby", `${id}`));
  const all = history.recent("lobby", 1000);
  assert.ok(all.length <= 5, `kept ${all.length}`);
  assert.equal(all.at(-1)?.text, "100");
  assert.equal(history.nextId(), 101);
});

Deno.test("SqliteHistory groups a turn's writes into one transaction, committed by commit() or a microtask", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  using store = new SqliteHistory(path);
  const reader = new DatabaseSync(path);
  const count = () =>
    Number((reader.prepare("SELECT COUNT(*) AS n FROM messages").get() as { n: number }).n);
  try {
    store.append(said(1, "lobby", "one"));
    store.append(said(2, "lobby", "two"));
    assert.equal(count(), 0, "not visible to others before the commit");
    assert.deepEqual(store.recent("lobby", 10).map((m) => m.text), ["one", "two"]);
    store.commit();
    assert.equal(count(), 2);
    store.append(said(3, "lobby", "three"));
    await Promise.resolve(); // the microtask commit runs first
    assert.equal(count(), 3);
  } finally {
    reader.close();
  }
});

Deno.test("SqliteHistory adds the account columns to a file made before accounts had ids; its old DMs are not shown", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  {
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE messages (id INTEGER PRIMARY KEY, room TEXT,
      from_user TEXT NOT NULL COLLATE NOCASE, to_user TEXT COLLATE NOCASE,
      text TEXT NOT NULL, ts INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0)`);
    db.exec("INSERT INTO messages VALUES (1, NULL, 'bob', 'erin', 'old secret', 1, 0)");
    db.close();
  }
  using history = new SqliteHistory(path);
  assert.deepEqual(history.recentDirect("id-erin", 10), []);
  appendDm(history, dm(2, "bob", "erin"));
  assert.deepEqual(history.recentDirect("id-erin", 10).map((m) => m.id), [2]);
  assert.equal(history.nextId(), 3);
});

Deno.test("SqliteHistory.prune() that the database refuses reports the error, keeps the messages and does not throw", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  const errors: string[] = [];
  using history = new SqliteHistory(path, { onError: (error) => errors.push(error.message) });
  history.append(said(1, "lobby", "old"));
  history.commit();
  // Another connection makes every delete fail, as a full disk would.
  const other = new DatabaseSync(path);
  other.exec(
    "CREATE TRIGGER refuse BEFORE DELETE ON messages BEGIN SELECT RAISE(ABORT, 'disk is full'); END",
  );
  assert.equal(history.prune(Number.MAX_SAFE_INTEGER), 0);
  assert.deepEqual(errors, ["disk is full"]);
  assert.deepEqual(history.recent("lobby", 50).map((m) => m.text), ["old"]);
  // Once the database takes deletes again, the next prune does its work.
  other.exec("DROP TRIGGER refuse");
  other.close();
  assert.equal(history.prune(Number.MAX_SAFE_INTEGER), 1);
  history.append(said(2, "lobby", "new"));
  assert.deepEqual(history.recent("lobby", 50).map((m) => m.text), ["new"]);
});

bothStores("keeps who banned, when and why; the first ban stands; unban forgets it", (history) => {
  history.ban("Mallory", 5, { by: "root", reason: "spam" });
  history.ban("mallory", 9, { by: "boss", reason: "again" });
  history.ban("eve", 7, { by: "root", reason: "" });
  assert.deepEqual(history.banOf("MALLORY"), {
    name: "Mallory",
    ts: 5,
    by: "root",
    reason: "spam",
  });
  assert.deepEqual(history.bans(10), [
    { name: "eve", ts: 7, by: "root" },
    { name: "Mallory", ts: 5, by: "root", reason: "spam" },
  ]);
  assert.deepEqual(history.bans(1).map((b) => b.name), ["eve"]);
  assert.equal(history.unban("mallory"), true);
  assert.equal(history.banOf("mallory"), undefined);
  history.ban("mallory", 11, { by: "boss", reason: "new" });
  assert.deepEqual(history.banOf("mallory"), {
    name: "mallory",
    ts: 11,
    by: "boss",
    reason: "new",
  });
});

Deno.test("SqliteHistory keeps ban reasons across a restart", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/history.db`;
  {
    using history = new SqliteHistory(path);
    history.ban("eve", 3, { by: "root", reason: "rude" });
  }
  using history = new SqliteHistory(path);
  assert.deepEqual(history.banOf("EVE"), { name: "eve", ts: 3, by: "root", reason: "rude" });
});

bothStores(
  "pages a room newest first-limited, delivered oldest first, with truncated",
  (history) => {
    for (let id = 1; id <= 10; id++) history.append(said(id, "lobby", `m${id}`));
    const newest = history.roomPage("lobby", { limit: 3 });
    assert.deepEqual([newest.messages.map((m) => m.id), newest.truncated], [[8, 9, 10], true]);
    const back = history.roomPage("lobby", { before: 3, limit: 5 });
    assert.deepEqual([back.messages.map((m) => m.id), back.truncated], [[1, 2], false]);
    const after = history.roomPage("lobby", { after: 8, limit: 5 });
    assert.deepEqual([after.messages.map((m) => m.id), after.truncated], [[9, 10], false]);
  },
);

bothStores(
  "counts unread messages up to a cap, skipping the reader's own, and finds mentions",
  (history) => {
    for (let id = 1; id <= 5; id++) history.append({ ...said(id, "lobby", `m${id}`), from: "bob" });
    history.append(said(6, "lobby", "my own"));
    history.append({ ...said(7, "lobby", "hey @Ann"), from: "bob" });
    const query = { self: "ANN", mentions: (t: string) => /@ann/i.test(t) };
    assert.deepEqual(history.roomUnread("lobby", { ...query, after: 0, cap: 100 }), {
      count: 6,
      capped: false,
      mentioned: true,
    });
    assert.deepEqual(history.roomUnread("lobby", { ...query, after: 0, cap: 3 }), {
      count: 3,
      capped: true,
      mentioned: false,
    });
  },
);

bothStores("keeps rooms, memberships and read markers", (history) => {
  history.ensureRoom("lobby", 1);
  history.ensureRoom("dev", 2);
  assert.equal(history.addMember("id-ann", "dev"), true);
  assert.equal(history.addMember("id-ann", "dev"), false);
  assert.equal(history.addMember("id-ann", "nowhere"), false, "only rooms that exist");
  history.setTopic("dev", "ship it");
  assert.deepEqual(history.rooms(), [
    { name: "dev", topic: "ship it", created: 2, members: 1 },
    { name: "lobby", topic: "", created: 1, members: 0 },
  ]);
  assert.deepEqual(history.roomsOf("id-ann"), ["dev"]);
  assert.equal(history.markRead("id-ann", "#dev", 5), true);
  assert.equal(history.markRead("id-ann", "#dev", 4), false, "never back");
  assert.equal(history.lastRead("id-ann", "#dev"), 5);
  assert.equal(history.removeMember("id-ann", "dev"), true);
  assert.deepEqual(history.roomsOf("id-ann"), []);
});

Deno.test("SqliteHistory migrates a schema 1 file: a room for every room in old messages, version 2", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "old.db");
  const db = new DatabaseSync(file);
  db.exec(`CREATE TABLE messages (id INTEGER PRIMARY KEY, room TEXT, from_user TEXT NOT NULL,
    to_user TEXT, text TEXT NOT NULL, ts INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO messages (id, room, from_user, text, ts) VALUES (1, 'dev', 'ann', 'old', 5);`);
  db.close();
  {
    using history = new SqliteHistory(file);
    assert.deepEqual(history.rooms().map((r) => [r.name, r.created]), [["dev", 5]]);
    assert.deepEqual(history.roomPage("dev", { limit: 5 }).messages.map((m) => m.text), ["old"]);
  }
  const check = new DatabaseSync(file);
  const row = check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
  check.close();
  assert.equal(row?.["value"], SCHEMA_VERSION);
});

/** The names of the indexes on `messages` in `file`, sorted. */
function messageIndexes(file: string): string[] {
  const db = new DatabaseSync(file);
  try {
    return db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY name",
    ).all().map((row) => String(row["name"]));
  } finally {
    db.close();
  }
}

Deno.test("SqliteHistory migrates a schema 2 file to 3: the unused DM indexes by name are dropped, rows kept", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "v2.db");
  {
    using history = new SqliteHistory(file);
    history.append(said(1, "lobby", "hi"));
    history.append(dm(2, "ann", "bob"), accounts("ann", "bob"));
    history.commit();
  }
  // What a version 2 build left: its two DM indexes by name, version 2.
  const db = new DatabaseSync(file);
  db.exec(`CREATE INDEX messages_dm_from ON messages (from_user, id) WHERE to_user IS NOT NULL;
    CREATE INDEX messages_dm_to ON messages (to_user, id) WHERE to_user IS NOT NULL;
    UPDATE meta SET value = 2 WHERE key = 'schema_version';`);
  db.close();
  assert.ok(messageIndexes(file).includes("messages_dm_from"));
  {
    using history = new SqliteHistory(file);
    assert.deepEqual(history.recent("lobby", 5).map((m) => m.text), ["hi"]);
    assert.deepEqual(history.recentDirect("id-bob", 5).map((m) => m.text), ["ann->bob"]);
  }
  assert.deepEqual(messageIndexes(file), [
    "messages_dm_from_account",
    "messages_dm_to_account",
    "messages_room",
    "messages_sender",
    "messages_ts",
  ]);
  const check = new DatabaseSync(file);
  const row = check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
  check.close();
  assert.equal(row?.["value"], 3);
});

Deno.test("SqliteHistory creates no DM indexes by name in a new file", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "new.db");
  new SqliteHistory(file).close();
  const indexes = messageIndexes(file);
  assert.ok(
    !indexes.includes("messages_dm_from") && !indexes.includes("messages_dm_to"),
    String(indexes),
  );
});
