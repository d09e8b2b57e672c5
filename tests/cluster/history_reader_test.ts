import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { HistoryReader } from "../../lib/cluster/_history_reader.ts";
import { SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("HistoryReader reads a schema 2 file (same rows as 3) and refuses a schema 1 one", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "history.db");
  {
    using history = new SqliteHistory(file);
    history.append({ kind: "message", id: 1, room: "lobby", from: "ann", text: "hi", ts: 5 });
    history.commit();
  }
  const db = new DatabaseSync(file);
  db.exec("UPDATE meta SET value = 2 WHERE key = 'schema_version'");
  db.close();
  {
    using reader = new HistoryReader(file);
    assert.ok(reader.oldest()?.includes("hi"));
  }
  const old = new DatabaseSync(file);
  old.exec("UPDATE meta SET value = 1 WHERE key = 'schema_version'");
  old.close();
  assert.throws(() => new HistoryReader(file), /its schema is 1, not 3/);
});
