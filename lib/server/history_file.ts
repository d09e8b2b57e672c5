/**
 * The chat history database file, created private before SQLite opens it.
 *
 * @module
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { SqliteHistory } from "../chat/sqlite_history.ts";
import { refuseSymlink } from "../util/no_symlink.ts";

const log = getLogger(["banter", "server"]);

/** The history file's name in the data directory. */
export const HISTORY_FILE = "history.db";

/** The files SQLite writes for `history.db`: itself, its WAL and shared memory. */
export const HISTORY_FILES = [HISTORY_FILE, `${HISTORY_FILE}-wal`, `${HISTORY_FILE}-shm`] as const;

/**
 * Cluster mode's local copy of the message stream (ids are stream
 * sequences, so it is never the embedded `history.db`).
 */
export const CLUSTER_COPY_FILE = "cluster-copy.db";

/** Options for {@linkcode openHistory}. */
export interface OpenHistoryOptions {
  /** Bytes of history one sender may hold. @default Infinity */
  maxBytesPerUser?: number;
  /** Bytes of history in all. @default Infinity */
  maxBytes?: number;
  /** Days history is kept; 0 stores no message at all. @default 30 */
  retentionDays?: number;
  /** The file's name in the data directory. @default {HISTORY_FILE} */
  file?: string;
}

/**
 * Open (or create, mode 0600) `<dataDir>/history.db`. Storage errors later
 * on are logged, not thrown.
 *
 * @param dataDir An existing directory.
 * @param options Quotas and retention.
 * @returns The history.
 * @throws {Deno.errors.AlreadyExists} When `history.db` or its `-wal` or
 * `-shm` file is a symbolic link (naming it).
 * @throws {Error} When the file cannot be created or opened.
 */
export async function openHistory(
  dataDir: string,
  options: OpenHistoryOptions = {},
): Promise<SqliteHistory> {
  const file = options.file ?? HISTORY_FILE;
  for (const name of [file, `${file}-wal`, `${file}-shm`]) {
    await refuseSymlink(join(dataDir, name), "history file");
  }
  const historyPath = join(dataDir, file);
  // Create it private before SQLite does (its -wal/-shm files copy the mode).
  await Deno.writeFile(historyPath, new Uint8Array(), {
    append: true,
    mode: 0o600,
  });
  await Deno.chmod(historyPath, 0o600);
  return new SqliteHistory(historyPath, {
    onError: (error) => log.error("Cannot store chat history: {error}", { error: error.message }),
    ...(options.maxBytesPerUser === undefined ? {} : { maxBytesPerUser: options.maxBytesPerUser }),
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    storeMessages: (options.retentionDays ?? 30) > 0,
  });
}
