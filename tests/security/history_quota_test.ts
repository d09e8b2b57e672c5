/**
 * History floods: one account filling the disk with the fattest allowed
 * messages (4,096 four-byte characters, 16 KiB each), many accounts
 * together, and `--retention-days 0`. Sizes are read from the SQLite file
 * itself, not from the store's own accounting.
 *
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MESSAGE_OVERHEAD_BYTES, SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import type { RoomMessage } from "../../lib/chat/message.ts";
import { createServerMetrics } from "../../lib/server/metrics.ts";
import { watchDiskSpace } from "../../lib/server/disk_space.ts";
import { FakeClock } from "../_fake_clock.ts";
import { tempDir } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";
import { captureLogs } from "./_log_capture.ts";

/** The fattest message the hub takes: 4,096 characters of four UTF-8 bytes. */
const FAT = "\u{1F600}".repeat(4096);
const FAT_BYTES = 4 * 4096;

/** Rows and text bytes per sender, read from the file with a fresh connection. */
function onDisk(path: string): Map<string, { rows: number; bytes: number }> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out = new Map<string, { rows: number; bytes: number }>();
    for (
      const row of db.prepare(
        "SELECT from_user AS user, COUNT(*) AS rows, SUM(length(CAST(text AS BLOB))) AS bytes FROM messages GROUP BY from_user",
      ).all()
    ) {
      out.set(String(row.user), { rows: Number(row.rows), bytes: Number(row.bytes) });
    }
    return out;
  } finally {
    db.close();
  }
}

function charged(held: { rows: number; bytes: number } | undefined): number {
  return held === undefined ? 0 : held.bytes + held.rows * MESSAGE_OVERHEAD_BYTES;
}

function say(id: number, from: string, text: string): RoomMessage {
  return { kind: "message", id, room: "lobby", from, text, ts: id };
}

Deno.test("one account sending the fattest messages is held to its byte quota, oldest first, and others keep theirs", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  const quota = 256 * 1024;
  {
    using history = new SqliteHistory(path, { maxBytesPerUser: quota, maxBytes: 4 * quota });
    let id = 1;
    for (let i = 0; i < 5; i++) history.append(say(id++, "alice", `hello ${i}`));
    for (let i = 0; i < 200; i++) history.append(say(id++, "mallory", FAT));
    history.append(say(id++, "alice", "still here"));
    history.commit();
  }
  const held = onDisk(path);
  const mallory = held.get("mallory")!;
  ok(charged(mallory) <= quota, `mallory holds ${charged(mallory)} bytes, quota ${quota}`);
  equal(mallory.rows, Math.floor(quota / (FAT_BYTES + MESSAGE_OVERHEAD_BYTES)));
  equal(held.get("alice")?.rows, 6, "alice loses nothing to mallory's flood");
  using reopened = new SqliteHistory(path, { maxBytesPerUser: quota });
  const recent = reopened.recent("lobby", 1000);
  equal(recent.at(-1)?.text, "still here");
  equal(recent.filter((m) => m.from === "mallory")[0]?.id, 206 - mallory.rows, "newest kept");
  equal(reopened.bytesOf("MALLORY"), charged(mallory), "the sums are recounted from the file");
  equal(reopened.nextId(), 207);
});

Deno.test("many accounts together are held to the total byte quota, the oldest messages of anyone going first", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  const total = 512 * 1024;
  {
    using history = new SqliteHistory(path, { maxBytesPerUser: total, maxBytes: total });
    let id = 1;
    for (let round = 0; round < 20; round++) {
      for (const user of ["u1", "u2", "u3", "u4", "u5"]) history.append(say(id++, user, FAT));
    }
    equal(history.nextId(), 101);
    ok(history.bytes <= total, `${history.bytes} bytes held`);
  }
  const held = onDisk(path);
  const sum = [...held.values()].reduce((n, h) => n + charged(h), 0);
  ok(sum <= total, `${sum} bytes on disk, quota ${total}`);
  ok(sum > total - (FAT_BYTES + MESSAGE_OVERHEAD_BYTES), "no more evicted than needed");
  using reopened = new SqliteHistory(path);
  const ids = reopened.recent("lobby", 1000).map((m) => m.id);
  equal(ids.at(-1), 100, "the newest is kept");
  equal(ids[0], 100 - ids.length + 1, "what is gone is the oldest");
  equal(reopened.nextId(), 101, "ids keep increasing past evicted ones");
});

Deno.test("through the server: fat messages from one user stay within --history-user-bytes on disk", async () => {
  const quota = 64 * 1024;
  await using s = await startTestServer({
    users: ["mallory", "alice"],
    config: { historyUserBytes: quota, historyTotalBytes: 1024 * 1024 },
  });
  await using mallory = await s.login("mallory");
  await using alice = await s.login("alice");
  await alice.send({ type: "say", text: "first" });
  await alice.until((f) => f.type === "message" && f.text === "first");
  for (let i = 0; i < 10; i++) {
    await mallory.send({ type: "say", text: FAT });
    await mallory.until((f) => f.type === "message" && f.from === "mallory");
  }
  const held = onDisk(join(s.config.data, "history.db"));
  ok(charged(held.get("mallory")) <= quota, `${charged(held.get("mallory"))} bytes`);
  equal(held.get("alice")?.rows, 1);
});

Deno.test("with --retention-days 0 no message is ever written to history.db, and ids still increase across restarts", async () => {
  await using dir = await tempDir();
  const config = { retentionDays: 0 };
  let lastId = 0;
  {
    await using s = await startTestServer({
      dir: dir.path,
      users: ["alice", "bob", "carol"],
      config,
    });
    await using alice = await s.login("alice");
    await using bob = await s.login("bob");
    await alice.send({ type: "say", text: "not for keeping" });
    const echo = await alice.until((f) => f.type === "message");
    await alice.send({ type: "say", text: "/msg bob secret" });
    const dm = await bob.until((f) => f.type === "dm");
    lastId = Math.max(echo.type === "message" ? echo.id : 0, dm.type === "dm" ? dm.id : 0);
    equal(
      onDisk(join(s.config.data, "history.db")).size,
      0,
      "nothing stored, not even until a prune",
    );
    await using carol = await s.login("carol");
    const room = await carol.until((f) => f.type === "room");
    equal(room.type === "room" && room.history.length, 0);
  }
  await using s = await startTestServer({ dir: dir.path, users: ["alice"], config });
  await using alice = await s.login("alice");
  await alice.send({ type: "say", text: "again" });
  const echo = await alice.until((f) => f.type === "message");
  ok(echo.type === "message" && echo.id > lastId, "no id is reused");
});

Deno.test("the disk-space watch exports free bytes and warns once when the data directory's filesystem runs low", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  const metrics = createServerMetrics();
  // A nearly full filesystem cannot be made here: the free-byte reading is faked.
  let free = 10 * 1024 * 1024 * 1024;
  using watch = watchDiskSpace("/data", {
    timers: clock,
    gauge: metrics.dataFreeBytes,
    warnBelowBytes: 1024 * 1024 * 1024,
    freeBytes: () => Promise.resolve(free),
  });
  await watch.check();
  ok(metrics.registry.render().includes(`banter_data_free_bytes ${free}`));
  free = 100 * 1024 * 1024;
  for (let minute = 0; minute < 3; minute++) {
    clock.advance(60_000);
    await watch.check();
  }
  ok(metrics.registry.render().includes(`banter_data_free_bytes ${free}`));
  const warnings = logs.text().filter((line) => line.includes("Low disk space"));
  equal(warnings.length, 1, "one warning per fall, not one a minute");
  free = 5 * 1024 * 1024 * 1024;
  clock.advance(60_000);
  await watch.check();
  equal(logs.text().filter((line) => line.includes("Disk space recovered")).length, 1);
});
