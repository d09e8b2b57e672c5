/**
 * The `--data` help line names every file the server keeps in its data
 * directory: by the code's own constants, and by what a real server leaves
 * there after logins, a failed one and a stop (each file private: the
 * directory 0700, the files readable by the owner only).
 *
 * @module
 */
import { equal, ok } from "node:assert/strict";
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

Deno.test("every file a real server leaves in its data directory is private and named in the --data help", async () => {
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
  for (const file of [HISTORY_FILE, LOCKOUT_FILE, ACTIVITY_FILE]) {
    ok(names.includes(file), `${file} in ${names.join(", ")}`);
  }
  equal((await Deno.stat(join(dir.path, "data"))).mode! & 0o777, 0o700, "the directory is 0700");
  for (const name of names) {
    // activity.json lists names and who is online: as private as history.db.
    const mode = (await Deno.stat(join(dir.path, "data", name))).mode! & 0o777;
    equal(mode & 0o077, 0, `${name} is ${mode.toString(8)}, readable by others`);
    // SQLite's companions and lock files go with the file they serve.
    const base = name.replace(/-(wal|shm)$|\.lock$/, "");
    ok(HELP.includes(base), `--data help names ${name}: ${HELP}`);
  }
});
