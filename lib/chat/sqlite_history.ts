/**
 * {@linkcode SqliteHistory}: a {@linkcode HistoryStore} in one SQLite file,
 * with its schema, its migration from older files and the byte quotas.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { DirectMessage, RoomMessage } from "./message.ts";
import { foldName } from "./_names.ts";
import type { BanDetails, BanRecord } from "./bans.ts";
import { banDetails } from "./_ban_details.ts";
import {
  countUnread,
  type DirectAccounts,
  type HistoryPage,
  type HistoryQuery,
  type HistoryStore,
  type StoredConversation,
  type StoredRoom,
  type UnreadCount,
  type UnreadQuery,
} from "./history.ts";

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
 * import { storedBytes } from "./sqlite_history.ts";
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
CREATE TABLE IF NOT EXISTS rooms (
  name TEXT PRIMARY KEY,
  topic TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
  account TEXT NOT NULL,
  room TEXT NOT NULL,
  PRIMARY KEY (account, room)
);
CREATE INDEX IF NOT EXISTS memberships_room ON memberships (room);
CREATE TABLE IF NOT EXISTS read_markers (
  account TEXT NOT NULL,
  conversation TEXT NOT NULL,
  last_read INTEGER NOT NULL,
  PRIMARY KEY (account, conversation)
);
`;

/**
 * The schema version this build writes (`meta` row `schema_version`):
 * 1 had messages, bans and meta; 2 adds rooms, memberships and read
 * markers, and makes a room for every room found in old messages; 3 drops
 * the DM indexes by name (`messages_dm_from`, `messages_dm_to`), which no
 * statement uses since DMs are read by account, and which every DM insert
 * updated.
 */
export const SCHEMA_VERSION = 3;

/** Rows read at most when counting unread messages or listing conversations. */
const SCAN_LIMIT = 5000;

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
 * import { SqliteHistory } from "./sqlite_history.ts";
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
  #q: Record<string, StatementSync> = {};

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
      migrate(this.#db);
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
    const statements: Record<string, string> = {
      ensureRoom:
        "INSERT INTO rooms (name, topic, created) VALUES (?, '', ?) ON CONFLICT (name) DO NOTHING",
      rooms:
        "SELECT name, topic, created, (SELECT COUNT(*) FROM memberships m WHERE m.room = rooms.name) AS members FROM rooms ORDER BY name",
      room:
        "SELECT name, topic, created, (SELECT COUNT(*) FROM memberships m WHERE m.room = rooms.name) AS members FROM rooms WHERE name = ?",
      roomCount: "SELECT COUNT(*) AS n FROM rooms",
      setTopic: "UPDATE rooms SET topic = ? WHERE name = ?",
      roomsOf: "SELECT room FROM memberships WHERE account = ? ORDER BY room",
      addMember:
        "INSERT INTO memberships (account, room) SELECT ?, name FROM rooms WHERE name = ? ON CONFLICT DO NOTHING",
      removeMember: "DELETE FROM memberships WHERE account = ? AND room = ?",
      forgetMemberships: "DELETE FROM memberships WHERE account = ?",
      forgetMarkers: "DELETE FROM read_markers WHERE account = ?",
      deleteRoomMarkers: "DELETE FROM read_markers WHERE conversation = ?",
      deleteRoomMembers: "DELETE FROM memberships WHERE room = ?",
      deleteRoom: "DELETE FROM rooms WHERE name = ?",
      lastRead: "SELECT last_read FROM read_markers WHERE account = ? AND conversation = ?",
      markRead:
        "INSERT INTO read_markers (account, conversation, last_read) VALUES (?, ?, ?) ON CONFLICT (account, conversation) DO UPDATE SET last_read = excluded.last_read WHERE excluded.last_read > last_read",
      roomPage:
        "SELECT id, room, from_user, text, ts, flags FROM messages WHERE room = ? AND id < ? AND id > ? ORDER BY id DESC LIMIT ?",
      directPage:
        "SELECT id, from_user, to_user, text, ts FROM messages WHERE to_user IS NOT NULL AND ((from_account = ? AND to_account = ?) OR (from_account = ? AND to_account = ?)) AND id < ? AND id > ? ORDER BY id DESC LIMIT ?",
      roomUnread:
        "SELECT from_user, text FROM messages WHERE room = ? AND id > ? AND from_user <> ? ORDER BY id LIMIT ?",
      directUnread:
        "SELECT from_user, text FROM messages WHERE to_user IS NOT NULL AND from_account = ? AND to_account = ? AND id > ? ORDER BY id LIMIT ?",
      conversations:
        "SELECT id, from_user, to_user, from_account, to_account FROM messages WHERE to_user IS NOT NULL AND (from_account = ? OR to_account = ?) ORDER BY id DESC LIMIT ?",
    };
    for (const [name, sql] of Object.entries(statements)) this.#q[name] = db.prepare(sql);
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
    return this.#recent.all(room, limit).map(roomMessageOf);
  }

  recentDirect(account: string, limit: number): DirectMessage[] {
    return this.#recentDirect.all(account, account, limit).map(directMessageOf);
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

  #run(name: string): StatementSync {
    return this.#q[name]!;
  }

  ensureRoom(room: string, ts: number): void {
    this.#begin();
    this.#run("ensureRoom").run(room, ts);
  }

  rooms(): StoredRoom[] {
    return this.#run("rooms").all().map(roomOf);
  }

  roomCount(): number {
    return int(this.#run("roomCount").get() ?? {}, "n");
  }

  room(room: string): StoredRoom | undefined {
    const row = this.#run("room").get(room);
    return row === undefined ? undefined : roomOf(row);
  }

  setTopic(room: string, topic: string): void {
    this.#begin();
    this.#run("setTopic").run(topic, room);
  }

  roomsOf(account: string): string[] {
    return this.#run("roomsOf").all(account).map((row) => str(row, "room"));
  }

  addMember(account: string, room: string): boolean {
    this.#begin();
    return Number(this.#run("addMember").run(account, room).changes) > 0;
  }

  removeMember(account: string, room: string): boolean {
    this.#begin();
    return Number(this.#run("removeMember").run(account, room).changes) > 0;
  }

  forgetAccount(account: string): number {
    this.#begin();
    return Number(this.#run("forgetMemberships").run(account).changes) +
      Number(this.#run("forgetMarkers").run(account).changes);
  }

  deleteRoom(room: string): boolean {
    this.#begin();
    this.#run("deleteRoomMarkers").run(`#${room}`);
    this.#run("deleteRoomMembers").run(room);
    return Number(this.#run("deleteRoom").run(room).changes) > 0;
  }

  lastRead(account: string, conversation: string): number {
    const row = this.#run("lastRead").get(account, conversation);
    return row === undefined ? 0 : int(row, "last_read");
  }

  markRead(account: string, conversation: string, id: number): boolean {
    this.#begin();
    return Number(this.#run("markRead").run(account, conversation, id).changes) > 0;
  }

  roomPage(room: string, query: HistoryQuery): HistoryPage<RoomMessage> {
    if (query.limit <= 0) return { messages: [], truncated: false };
    const rows = this.#run("roomPage").all(
      room,
      bound(query.before, Number.MAX_SAFE_INTEGER),
      bound(query.after, -1),
      query.limit + 1,
    );
    return pageFrom(rows.map(roomMessageOf), query.limit);
  }

  directPage(account: string, other: string, query: HistoryQuery): HistoryPage<DirectMessage> {
    if (query.limit <= 0) return { messages: [], truncated: false };
    const rows = this.#run("directPage").all(
      account,
      other,
      other,
      account,
      bound(query.before, Number.MAX_SAFE_INTEGER),
      bound(query.after, -1),
      query.limit + 1,
    );
    return pageFrom(rows.map(directMessageOf), query.limit);
  }

  roomUnread(room: string, query: UnreadQuery): UnreadCount {
    const rows = this.#run("roomUnread").all(
      room,
      query.after,
      query.self,
      Math.min(query.cap + 1, SCAN_LIMIT),
    );
    return countUnread(rows.map(unreadOf), query);
  }

  directUnread(account: string, other: string, query: UnreadQuery): UnreadCount {
    const rows = this.#run("directUnread").all(
      other,
      account,
      query.after,
      Math.min(query.cap + 1, SCAN_LIMIT),
    );
    return countUnread(rows.map(unreadOf), query);
  }

  conversations(account: string, limit: number): StoredConversation[] {
    const found = new Map<string, StoredConversation>();
    for (const row of this.#run("conversations").all(account, account, SCAN_LIMIT)) {
      if (found.size >= limit) break;
      const outgoing = row["from_account"] === account;
      const other = row[outgoing ? "to_account" : "from_account"];
      if (typeof other !== "string" || found.has(other)) continue;
      found.set(other, {
        account: other,
        name: str(row, outgoing ? "to_user" : "from_user"),
        lastId: int(row, "id"),
      });
    }
    return [...found.values()];
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

/** Bring a file of an older schema up to {@linkcode SCHEMA_VERSION}, one step per version. */
function migrate(db: DatabaseSync): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
  const version = typeof row?.["value"] === "number" ? row["value"] : 1;
  if (version >= SCHEMA_VERSION) return;
  if (version < 2) {
    db.exec(`
INSERT INTO rooms (name, topic, created)
  SELECT room, '', MIN(ts) FROM messages WHERE room IS NOT NULL GROUP BY room
  ON CONFLICT (name) DO NOTHING;
`);
  }
  if (version < 3) {
    db.exec(`
DROP INDEX IF EXISTS messages_dm_from;
DROP INDEX IF EXISTS messages_dm_to;
`);
  }
  db.exec(`
INSERT INTO meta (key, value) VALUES ('schema_version', ${SCHEMA_VERSION})
  ON CONFLICT (key) DO UPDATE SET value = excluded.value;
`);
}

type Row = Record<string, unknown>;

function roomOf(row: Row): StoredRoom {
  return {
    name: str(row, "name"),
    topic: str(row, "topic"),
    created: int(row, "created"),
    members: int(row, "members"),
  };
}

function roomMessageOf(row: Row): RoomMessage {
  const flags = int(row, "flags");
  return {
    kind: "message",
    id: int(row, "id"),
    room: str(row, "room"),
    from: str(row, "from_user"),
    text: str(row, "text"),
    ts: int(row, "ts"),
    ...(flags & ACTION ? { action: true } : {}),
    ...(flags & BOT ? { bot: true } : {}),
  };
}

function directMessageOf(row: Row): DirectMessage {
  return {
    kind: "dm",
    id: int(row, "id"),
    from: str(row, "from_user"),
    to: str(row, "to_user"),
    text: str(row, "text"),
    ts: int(row, "ts"),
  };
}

function unreadOf(row: Row): { from: string; text: string } {
  return { from: str(row, "from_user"), text: str(row, "text") };
}

function bound(value: number | undefined, fallback: number): number {
  return value === undefined ? fallback : value;
}

/** Rows newest first, one more than `limit` when truncated: oldest first, at most `limit`. */
function pageFrom<T>(newestFirst: T[], limit: number): HistoryPage<T> {
  const truncated = newestFirst.length > limit;
  return { messages: newestFirst.slice(0, limit).reverse(), truncated };
}

function quota(name: string, value: number | undefined): number {
  if (value === undefined) return Infinity;
  if (!(value > 0)) throw new RangeError(`Cannot open history: ${name} is ${value}`);
  return value;
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
