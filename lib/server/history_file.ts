/**
 * The chat history database file, created private before SQLite opens it.
 *
 * @module
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { SqliteHistory } from "../chat/history.ts";

const log = getLogger(["banter", "server"]);

/**
 * Open (or create, mode 0600) `<dataDir>/history.db`. Storage errors later
 * on are logged, not thrown.
 *
 * @param dataDir An existing directory.
 * @returns The history.
 * @throws {Error} When the file cannot be created or opened.
 */
export async function openHistory(dataDir: string): Promise<SqliteHistory> {
  const historyPath = join(dataDir, "history.db");
  // Create it private before SQLite does (its -wal/-shm files copy the mode).
  await Deno.writeFile(historyPath, new Uint8Array(), {
    append: true,
    mode: 0o600,
  });
  await Deno.chmod(historyPath, 0o600);
  return new SqliteHistory(historyPath, {
    onError: (error) => log.error("Cannot store chat history: {error}", { error: error.message }),
  });
}
