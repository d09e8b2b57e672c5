/**
 * Where the hub keeps what must outlive a connection: room messages, direct
 * messages, bans and the next message id. {@linkcode SqliteHistory} persists
 * to a file; {@linkcode MemoryHistory} is for tests and history-less servers.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { DirectMessage, RoomMessage } from "./message.ts";
import { foldName } from "./_names.ts";
import type { BanDetails, BanRecord } from "./bans.ts";

/** The two accounts a DM belongs to (`Member.account` keys, not names). */
export interface DirectAccounts {
  readonly from: string;
  readonly to: string;
}

/**
 * Storage behind a hub. Calls are synchronous and cheap: one write per
 * message, never one per receiver.
 *
 * DMs are kept by account (a name removed and created again is another
 * account and sees none of the old one's DMs); bans by user name, compared
 * case-insensitively (ASCII).
 */
export interface HistoryStore {
  /**
   * Store one room message or DM. Its `id` must come from {@linkcode nextId}.
   * A DM stored without `accounts` is never read back.
   */
  append(message: RoomMessage | DirectMessage, accounts?: DirectAccounts): void;
  /** The last `limit` messages of `room`, oldest first. */
  recent(room: string, limit: number): RoomMessage[];
  /** The last `limit` DMs sent or received by `account`, oldest first. */
  recentDirect(account: string, limit: number): DirectMessage[];
  /** The id the next message should get; higher than any id ever stored. */
  nextId(): number;
  /** Ban `user` from entering, as of `ts`, by whom and why. Banning twice
   * is harmless: the first ban and its details stand. */
  ban(user: string, ts: number, details?: BanDetails): void;
  /** The ban of `user` (case-insensitive), if banned. */
  banOf(user: string): BanRecord | undefined;
  /** The newest `limit` bans, newest first. */
  bans(limit: number): BanRecord[];
  /** Lift a ban. @returns `false` when `user` was not banned. */
  unban(user: string): boolean;
  /** Whether `user` is banned. */
  isBanned(user: string): boolean;
  /**
   * Delete messages with `ts` before `olderThanTs`. Never throws: a store
   * that cannot prune reports it its own way and returns 0.
   * @returns How many.
   */
  prune(olderThanTs: number): number;
  /**
   * Make everything stored so far durable. Stores may group writes (one
   * transaction per event-loop turn); callers that are about to tell a peer
   * a message exists call this first. Never throws.
   */
  commit(): void;
  /** Release the store (committing first). Further calls throw. */
  close(): void;
}

/** Options for {@linkcode MemoryHistory}. */
export interface MemoryHistoryOptions {
  /** Messages kept per room, and DMs kept in all. @default 1000 */
  maxMessages?: number;
}

/**
 * A {@linkcode HistoryStore} in memory, bounded per room. Nothing survives a
 * restart.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { MemoryHistory } from "./history.ts";
 *
 * const history = new MemoryHistory();
 * history.append({ kind: "message", id: 1, room: "lobby", from: "ann", text: "hi", ts: 0 });
 * deepEqual(history.recent("lobby", 50).map((m) => m.text), ["hi"]);
 * deepEqual(history.nextId(), 2);
 * ```
 */
export class MemoryHistory implements HistoryStore {
  #max: number;
  #rooms = new Map<string, RoomMessage[]>();
  #direct: { dm: DirectMessage; accounts: DirectAccounts | undefined; ts: number }[] = [];
  #bans = new Map<string, BanRecord>();
  #nextId = 1;

  /**
   * @param options Size bound.
   * @throws {RangeError} When `maxMessages` is below 1.
   */
  constructor(options: MemoryHistoryOptions = {}) {
    const max = options.maxMessages ?? 1000;
    if (!(max >= 1)) {
      throw new RangeError(`Cannot create history: maxMessages is ${max}`);
    }
    this.#max = max;
  }

  append(message: RoomMessage | DirectMessage, accounts?: DirectAccounts): void {
    this.#nextId = Math.max(this.#nextId, message.id + 1);
    if (message.kind === "dm") {
      pushBounded(this.#direct, { dm: message, accounts, ts: message.ts }, this.#max);
      return;
    }
    let list = this.#rooms.get(message.room);
    if (list === undefined) {
      list = [];
      this.#rooms.set(message.room, list);
    }
    pushBounded(list, message, this.#max);
  }

  recent(room: string, limit: number): RoomMessage[] {
    const list = this.#rooms.get(room) ?? [];
    return limit > 0 ? list.slice(-limit) : [];
  }

  recentDirect(account: string, limit: number): DirectMessage[] {
    const found: DirectMessage[] = [];
    for (let i = this.#direct.length - 1; i >= 0 && found.length < limit; i--) {
      const { dm, accounts } = this.#direct[i]!;
      if (accounts?.from === account || accounts?.to === account) found.push(dm);
    }
    return found.reverse();
  }

  nextId(): number {
    return this.#nextId;
  }

  ban(user: string, ts: number, details?: BanDetails): void {
    const key = foldName(user);
    if (this.#bans.has(key)) return;
    this.#bans.set(key, { name: user, ts, ...banDetails(details) });
  }

  banOf(user: string): BanRecord | undefined {
    return this.#bans.get(foldName(user));
  }

  bans(limit: number): BanRecord[] {
    return [...this.#bans.values()].sort((a, b) => b.ts - a.ts).slice(0, Math.max(0, limit));
  }

  unban(user: string): boolean {
    return this.#bans.delete(foldName(user));
  }

  isBanned(user: string): boolean {
    return this.#bans.has(foldName(user));
  }

  prune(olderThanTs: number): number {
    let removed = 0;
    const keep = <T extends { ts: number }>(list: T[]): T[] => {
      const kept = list.filter((m) => m.ts >= olderThanTs);
      removed += list.length - kept.length;
      return kept;
    };
    for (const [room, list] of this.#rooms) {
      const kept = keep(list);
      if (kept.length === 0) this.#rooms.delete(room);
      else this.#rooms.set(room, kept);
    }
    this.#direct = keep(this.#direct);
    return removed;
  }

  commit(): void {}

  close(): void {}
}

/** Options for {@linkcode SqliteHistory}. */
export interface SqliteHistoryOptions {
  /**
   * SQLite `synchronous` level. `NORMAL` (with WAL) never corrupts the file
   * and loses nothing if the process crashes; a power cut may lose the last
   * few messages. Chat history is worth that trade for one fsync per
   * checkpoint instead of one per message. Choose `FULL` to fsync every
   * commit. @default "NORMAL"
   */
  synchronous?: "NORMAL" | "FULL";
  /**
   * Told when a grouped commit fails (disk full, I/O error): the messages
   * of that turn were delivered but are not in history. @default ignore
   */
  onError?: (error: Error) => void;
  /**
   * Bytes of history one sender may hold (see {@linkcode storedBytes}):
   * past it, that sender's oldest messages and DMs are deleted first.
   * @default Infinity
   */
  maxBytesPerUser?: number;
  /**
   * Bytes of history in all: past it, the oldest messages of anyone are
   * deleted first. @default Infinity
   */
  maxBytes?: number;
  /**
   * Store messages at all. `false` (retention of 0 days) keeps bans and the
   * next id only, so ids still increase across restarts. @default true
   */
  storeMessages?: boolean;
}

/**
 * What one stored message is charged beyond its text's UTF-8 bytes: the id,
 * names, time and index entries of its row, so a flood of one-character
 * messages is bounded too.
 */
export const MESSAGE_OVERHEAD_BYTES = 64;

/** Rows looked at per eviction query. */
const EVICT_BATCH = 64;

/**
 * The bytes a message is charged against the quotas: its text in UTF-8 plus
 * {@linkcode MESSAGE_OVERHEAD_BYTES}.
 *
 * @param text The message text.
 * @returns The charge.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { storedBytes } from "./history.ts";
 * equal(storedBytes("\u{1F600}"), 4 + 64);
 * ```
 */
export function storedBytes(text: string): number {
  return utf8Length(text) + MESSAGE_OVERHEAD_BYTES;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (isPair(unit, text.charCodeAt(i + 1))) {
      bytes += 4; // a surrogate pair is one four-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isPair(high: number, low: number): boolean {
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  room TEXT,
  from_user TEXT NOT NULL COLLATE NOCASE,
  to_user TEXT COLLATE NOCASE,
  text TEXT NOT NULL,
  ts INTEGER NOT NULL,
  flags INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id);
DROP INDEX IF EXISTS messages_from;
DROP INDEX IF EXISTS messages_to;
CREATE INDEX IF NOT EXISTS messages_dm_from ON messages (from_user, id) WHERE to_user IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_dm_to ON messages (to_user, id) WHERE to_user IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_ts ON messages (ts);
CREATE INDEX IF NOT EXISTS messages_sender ON messages (from_user, id);
CREATE TABLE IF NOT EXISTS bans (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ban_details (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  by_user TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

const ACTION = 1;
const BOT = 2;

/**
 * A {@linkcode HistoryStore} in one SQLite file (WAL mode). Room messages and
 * DMs share one table and one id sequence; `prune` records the highest id in
 * a `meta` row first, so ids keep increasing even after every message is
 * pruned. Statements are prepared once.
 *
 * Each sender's messages and DMs are charged {@linkcode storedBytes}; past
 * `maxBytesPerUser` that sender's oldest rows go first, past `maxBytes` the
 * oldest rows of anyone, in the same transaction as the message that went
 * over. The charges are summed once at open and kept in memory.
 *
 * The directory must exist; the file is created if missing. Only one
 * process may use a file at a time.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { SqliteHistory } from "./history.ts";
 *
 * using history = new SqliteHistory(":memory:");
 * history.ban("mallory", 0);
 * deepEqual(history.isBanned("Mallory"), true);
 * ```
 */
export class SqliteHistory implements HistoryStore {
  #db: DatabaseSync;
  #inTransaction = false;
  #onError: (error: Error) => void;
  #insert: StatementSync;
  #recent: StatementSync;
  #recentDirect: StatementSync;
  #maxId: StatementSync;
  #savedNextId: StatementSync;
  #saveNextId: StatementSync;
  #prune: StatementSync;
  #ban: StatementSync;
  #unban: StatementSync;
  #isBanned: StatementSync;
  #banDetails: StatementSync;
  #unbanDetails: StatementSync;
  #banOf: StatementSync;
  #bansList: StatementSync;
  #maxBytesPerUser: number;
  #maxBytes: number;
  #storeMessages: boolean;
  /** Bytes charged per sender (folded name), and in all. */
  #userBytes = new Map<string, number>();
  #totalBytes = 0;
  #sumBySender: StatementSync;
  #oldestOf: StatementSync;
  #oldest: StatementSync;
  #deleteId: StatementSync;

  /**
   * Open (or create) the history file.
   *
   * @param path The database file, e.g. `data/history.db`; `:memory:` for a
   *   throwaway store.
   * @param options Durability level, quotas.
   * @throws {Error} When the file cannot be opened or is not a database.
   * @throws {RangeError} When a quota is not positive.
   */
  constructor(path: string, options: SqliteHistoryOptions = {}) {
    const synchronous = options.synchronous ?? "NORMAL";
    if (synchronous !== "NORMAL" && synchronous !== "FULL") {
      throw new TypeError(
        `Cannot open history: synchronous is "${synchronous}"`,
      );
    }
    this.#maxBytesPerUser = quota("maxBytesPerUser", options.maxBytesPerUser);
    this.#maxBytes = quota("maxBytes", options.maxBytes);
    this.#storeMessages = options.storeMessages ?? true;
    this.#onError = options.onError ?? (() => {});
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec(`PRAGMA synchronous = ${synchronous}`);
      this.#db.exec("PRAGMA busy_timeout = 1000");
      this.#db.exec(SCHEMA);
      addAccountColumns(this.#db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    const db = this.#db;
    this.#insert = db.prepare(
      "INSERT INTO messages (id, room, from_user, to_user, text, ts, flags, from_account, to_account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#recent = db.prepare(
      "SELECT * FROM (SELECT id, room, from_user, text, ts, flags FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
    );
    this.#recentDirect = db.prepare(
      "SELECT * FROM (SELECT id, from_user, to_user, text, ts FROM messages WHERE to_user IS NOT NULL AND (from_account = ? OR to_account = ?) ORDER BY id DESC LIMIT ?) ORDER BY id",
    );
    this.#maxId = db.prepare("SELECT MAX(id) AS id FROM messages");
    this.#savedNextId = db.prepare(
      "SELECT value FROM meta WHERE key = 'next_id'",
    );
    this.#saveNextId = db.prepare(
      "INSERT INTO meta (key, value) VALUES ('next_id', ?) ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
    );
    this.#prune = db.prepare("DELETE FROM messages WHERE ts < ?");
    this.#ban = db.prepare(
      "INSERT INTO bans (name, ts) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
    );
    this.#unban = db.prepare("DELETE FROM bans WHERE name = ?");
    this.#isBanned = db.prepare("SELECT 1 AS hit FROM bans WHERE name = ?");
    this.#banDetails = db.prepare(
      "INSERT INTO ban_details (name, by_user, reason) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
    );
    this.#unbanDetails = db.prepare("DELETE FROM ban_details WHERE name = ?");
    const banColumns =
      "SELECT b.name AS name, b.ts AS ts, d.by_user AS by_user, d.reason AS reason FROM bans b LEFT JOIN ban_details d ON d.name = b.name";
    this.#banOf = db.prepare(`${banColumns} WHERE b.name = ?`);
    this.#bansList = db.prepare(`${banColumns} ORDER BY b.ts DESC LIMIT ?`);
    this.#sumBySender = db.prepare(
      "SELECT from_user, COUNT(*) AS n, SUM(length(CAST(text AS BLOB))) AS bytes FROM messages GROUP BY from_user",
    );
    this.#oldestOf = db.prepare(
      "SELECT id, length(CAST(text AS BLOB)) AS bytes FROM messages WHERE from_user = ? ORDER BY id LIMIT ?",
    );
    this.#oldest = db.prepare(
      "SELECT id, from_user, length(CAST(text AS BLOB)) AS bytes FROM messages ORDER BY id LIMIT ?",
    );
    this.#deleteId = db.prepare("DELETE FROM messages WHERE id = ?");
    this.#recount();
  }

  /** Bytes of history held now, as charged by {@linkcode storedBytes}. */
  get bytes(): number {
    return this.#totalBytes;
  }

  /**
   * Bytes of history `user` holds now.
   *
   * @param user A sender's name (any case).
   * @returns The sum of the charges of their stored messages and DMs.
   */
  bytesOf(user: string): number {
    return this.#userBytes.get(foldName(user)) ?? 0;
  }

  append(message: RoomMessage | DirectMessage, accounts?: DirectAccounts): void {
    this.#begin();
    if (!this.#storeMessages) {
      this.#saveNextId.run(message.id + 1);
      return;
    }
    this.#insertRow(message, accounts);
    this.#charge(message.from, storedBytes(message.text));
    this.#enforceQuotas(message);
  }

  #insertRow(message: RoomMessage | DirectMessage, accounts?: DirectAccounts): void {
    if (message.kind === "dm") {
      this.#insert.run(
        message.id,
        null,
        message.from,
        message.to,
        message.text,
        message.ts,
        0,
        accounts?.from ?? null,
        accounts?.to ?? null,
      );
      return;
    }
    const flags = (message.action ? ACTION : 0) | (message.bot ? BOT : 0);
    this.#insert.run(
      message.id,
      message.room,
      message.from,
      null,
      message.text,
      message.ts,
      flags,
      null,
      null,
    );
  }

  recent(room: string, limit: number): RoomMessage[] {
    return this.#recent.all(room, limit).map((row) => {
      const flags = int(row, "flags");
      const message: RoomMessage = {
        kind: "message",
        id: int(row, "id"),
        room: str(row, "room"),
        from: str(row, "from_user"),
        text: str(row, "text"),
        ts: int(row, "ts"),
        ...(flags & ACTION ? { action: true } : {}),
        ...(flags & BOT ? { bot: true } : {}),
      };
      return message;
    });
  }

  recentDirect(account: string, limit: number): DirectMessage[] {
    return this.#recentDirect.all(account, account, limit).map((row) => ({
      kind: "dm",
      id: int(row, "id"),
      from: str(row, "from_user"),
      to: str(row, "to_user"),
      text: str(row, "text"),
      ts: int(row, "ts"),
    }));
  }

  nextId(): number {
    const max = this.#maxId.get()?.["id"];
    const saved = this.#savedNextId.get()?.["value"];
    return Math.max(
      typeof max === "number" ? max + 1 : 1,
      typeof saved === "number" ? saved : 1,
    );
  }

  ban(user: string, ts: number, details?: BanDetails): void {
    this.#begin();
    // A ban of a name banned already keeps the first ban's details.
    if (Number(this.#ban.run(user, ts).changes) === 0) return;
    this.#unbanDetails.run(user); // none left by an older unban
    if (details) this.#banDetails.run(user, details.by, details.reason);
  }

  banOf(user: string): BanRecord | undefined {
    const row = this.#banOf.get(user);
    return row === undefined ? undefined : banRecord(row);
  }

  bans(limit: number): BanRecord[] {
    return this.#bansList.all(Math.max(0, limit)).map(banRecord);
  }

  unban(user: string): boolean {
    this.#begin();
    this.#unbanDetails.run(user);
    return Number(this.#unban.run(user).changes) > 0;
  }

  isBanned(user: string): boolean {
    return this.#isBanned.get(user) !== undefined;
  }

  prune(olderThanTs: number): number {
    // Its own transaction: the saved next id and the deletion go together.
    this.commit();
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        this.#saveNextId.run(this.nextId());
        const { changes } = this.#prune.run(olderThanTs);
        this.#db.exec("COMMIT");
        this.#recount();
        return Number(changes);
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      // A full or broken disk must not take the server down: told, retried next time.
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      return 0;
    }
  }

  /** Sum every sender's charge from the file (at open, after a prune or a failed commit). */
  #recount(): void {
    this.#userBytes.clear();
    this.#totalBytes = 0;
    for (const row of this.#sumBySender.all()) {
      this.#charge(
        str(row, "from_user"),
        int(row, "bytes") + int(row, "n") * MESSAGE_OVERHEAD_BYTES,
      );
    }
  }

  /** The rolled-back turn's charges are gone from the file: so from the sums. */
  #recountAfterRollback(): void {
    try {
      this.#recount();
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #charge(user: string, bytes: number): void {
    const key = foldName(user);
    const held = (this.#userBytes.get(key) ?? 0) + bytes;
    if (held > 0) this.#userBytes.set(key, held);
    else this.#userBytes.delete(key);
    this.#totalBytes += bytes;
  }

  /**
   * Delete the oldest rows of `message`'s sender while they are over their
   * quota, then the oldest rows of anyone while the store is over its own.
   * The id sequence is saved first in case the newest row is among them.
   */
  #enforceQuotas(message: RoomMessage | DirectMessage): void {
    const overUser = () => this.bytesOf(message.from) > this.#maxBytesPerUser;
    const overTotal = () => this.#totalBytes > this.#maxBytes;
    if (!overUser() && !overTotal()) return;
    this.#saveNextId.run(message.id + 1);
    while (overUser()) {
      const rows = this.#oldestOf.all(message.from, EVICT_BATCH);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (!overUser()) break;
        this.#evict(int(row, "id"), message.from, int(row, "bytes"));
      }
    }
    while (overTotal()) {
      const rows = this.#oldest.all(EVICT_BATCH);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (!overTotal()) break;
        this.#evict(int(row, "id"), str(row, "from_user"), int(row, "bytes"));
      }
    }
  }

  #evict(id: number, from: string, textBytes: number): void {
    this.#deleteId.run(id);
    this.#charge(from, -(textBytes + MESSAGE_OVERHEAD_BYTES));
  }

  /**
   * Open the turn's transaction on the first write: everything written in
   * this turn of the event loop commits together, in a microtask or earlier
   * when {@linkcode commit} is called (before a message goes out).
   */
  #begin(): void {
    if (this.#inTransaction) return;
    this.#db.exec("BEGIN");
    this.#inTransaction = true;
    queueMicrotask(() => this.commit());
  }

  commit(): void {
    if (!this.#inTransaction) return;
    this.#inTransaction = false;
    try {
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      this.#recountAfterRollback();
    }
  }

  close(): void {
    if (!this.#db.isOpen) return;
    this.commit();
    this.#db.close();
  }

  /** Same as {@linkcode close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * DMs are read by account (`from_account`, `to_account`, added to files
 * made before accounts had ids). Older DMs have none and are never shown:
 * their names may belong to other accounts by now.
 */
function addAccountColumns(db: DatabaseSync): void {
  const columns = new Set(
    db.prepare("PRAGMA table_info(messages)").all().map((row) => String(row["name"])),
  );
  for (const column of ["from_account", "to_account"]) {
    if (!columns.has(column)) db.exec(`ALTER TABLE messages ADD COLUMN ${column} TEXT`);
  }
  db.exec(`
CREATE INDEX IF NOT EXISTS messages_dm_from_account ON messages (from_account, id) WHERE to_user IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_dm_to_account ON messages (to_account, id) WHERE to_user IS NOT NULL;
`);
}

function quota(name: string, value: number | undefined): number {
  if (value === undefined) return Infinity;
  if (!(value > 0)) throw new RangeError(`Cannot open history: ${name} is ${value}`);
  return value;
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  // Trim in batches so a full room does not shift the array per message.
  if (list.length > max + Math.ceil(max / 4)) list.splice(0, list.length - max);
}

function int(row: Record<string, unknown>, key: string): number {
  const value = row[key];
  if (typeof value !== "number") {
    throw new TypeError(`Cannot read history: column ${key} is ${value}`);
  }
  return value;
}

function str(row: Record<string, unknown>, key: string): string {
  const value = row[key];
  if (typeof value !== "string") {
    throw new TypeError(`Cannot read history: column ${key} is ${value}`);
  }
  return value;
}

/** The optional fields of a ban record, left out when empty. */
function banDetails(details: BanDetails | undefined): { by?: string; reason?: string } {
  return {
    ...(details?.by ? { by: details.by } : {}),
    ...(details?.reason ? { reason: details.reason } : {}),
  };
}

function banRecord(row: Record<string, unknown>): BanRecord {
  return {
    name: String(row["name"]),
    ts: Number(row["ts"]),
    ...banDetails({
      by: typeof row["by_user"] === "string" ? row["by_user"] : "",
      reason: typeof row["reason"] === "string" ? row["reason"] : "",
    }),
  };
}
