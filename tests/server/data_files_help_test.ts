/**
 * The `--data` help line names every file the server keeps in its data
 * directory: by the code's own constants, and by what a real server leaves
 * there after logins, a failed one and a stop.
 *
 * @module
 */
import { ok } from "node:assert/strict";
import { join } from "node:path";
import { ACTIVITY_FILE } from "../../lib/server/activity.ts";
import { TOKENS_FILE } from "../../lib/server/app.ts";
import { LOCKOUT_FILE } from "../../lib/server/data_files.ts";
import { HISTORY_FILE } from "../../lib/server/history_file.ts";
import { CREDENTIALS_FILE, SERVER_SETTINGS } from "../../lib/server/settings.ts";
import { tempDir } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";

const HELP = SERVER_SETTINGS.find((setting) => setting.key === "data")?.help ?? "";

Deno.test("the --data help names every file the code keeps in the data directory", () => {
  for (const file of [HISTORY_FILE, CREDENTIALS_FILE, LOCKOUT_FILE, TOKENS_FILE, ACTIVITY_FILE]) {
    ok(HELP.includes(file), `--data help names ${file}: ${HELP}`);
  }
});

Deno.test("every file a real server leaves in its data directory is named in the --data help", async () => {
  await using dir = await tempDir();
  {
    await using s = await startTestServer({ users: ["alice"], dir: dir.path });
    await using alice = await s.login("alice");
    await alice.until((f) => f.type === "room");
    await using stranger = await s.client();
    await stranger.login("alice", "not the password at all");
  }
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(dir.path, "data"))) names.push(entry.name);
  ok(names.includes(HISTORY_FILE) && names.includes(LOCKOUT_FILE), names.join(", "));
  for (const name of names) {
    // SQLite's companions and lock files go with the file they serve.
    const base = name.replace(/-(wal|shm)$|\.lock$/, "");
    ok(HELP.includes(base), `--data help names ${name}: ${HELP}`);
  }
});
