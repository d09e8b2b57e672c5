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

/** A room as stored: rooms persist while empty. */
export interface StoredRoom {
  readonly name: string;
  /** `""` when none was set. */
  readonly topic: string;
  /** When the room was first joined. */
  readonly created: number;
  /** Accounts that are members, online or not. */
  readonly members: number;
}

/**
 * Which messages of a conversation: ids strictly between `after` and
 * `before`, the newest `limit` of them.
 */
export interface HistoryQuery {
  /** Only ids below this. @default no bound */
  readonly before?: number;
  /** Only ids above this. @default no bound */
  readonly after?: number;
  /** At most this many (0 gives none). */
  readonly limit: number;
}

/** A page of history, oldest first. */
export interface HistoryPage<T> {
  readonly messages: T[];
  /** More messages matched than `limit`: the oldest were left out. */
  readonly truncated: boolean;
}

/** Unread messages of one conversation since a read marker. */
export interface UnreadCount {
  /** Unread messages, at most the cap asked for. */
  readonly count: number;
  /** There are more than `count`. */
  readonly capped: boolean;
  /** Some unread message (within the cap) mentions the reader. */
  readonly mentioned: boolean;
}

/** A DM conversation of one account, as listed at login. */
export interface StoredConversation {
  /** The other account's key. */
  readonly account: string;
  /** The other account's name as last seen in the conversation. */
  readonly name: string;
  /** The newest message id in it. */
  readonly lastId: number;
}

/** What counts as unread for one reader. */
export interface UnreadQuery {
  /** The read marker: ids above it are unread. */
  readonly after: number;
  /** The reader's name; their own messages are never unread. */
  readonly self: string;
  /** Stop counting past this many. */
  readonly cap: number;
  /** Whether a text mentions the reader. */
  readonly mentions: (text: string) => boolean;
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
  /** Make `room` exist (with no topic) if it does not yet. */
  ensureRoom(room: string, ts: number): void;
  /** Every room, sorted by name. */
  rooms(): StoredRoom[];
  /** How many rooms there are. */
  roomCount(): number;
  /** The room, if it exists. */
  room(room: string): StoredRoom | undefined;
  /** Set a room's topic (`""` clears it). */
  setTopic(room: string, topic: string): void;
  /** The rooms `account` is a member of, sorted. */
  roomsOf(account: string): string[];
  /** Make `account` a member of `room` (which must exist). @returns `false` when it was one. */
  addMember(account: string, room: string): boolean;
  /** @returns `false` when `account` was not a member of `room`. */
  removeMember(account: string, room: string): boolean;
  /**
   * Forget a removed account's memberships and the read markers it kept
   * (its DMs stay, for the other side; markers others keep on them too).
   * @returns How many memberships and markers were forgotten.
   */
  forgetAccount(account: string): number;
  /**
   * Forget a room: its topic, memberships and read markers (its messages
   * stay until pruned, as any message does).
   * @returns `false` when there was no such room.
   */
  deleteRoom(room: string): boolean;
  /** The id `account` has read up to in `conversation` (`#room` or `@account`); 0 when none. */
  lastRead(account: string, conversation: string): number;
  /** Move the marker forward to `id`. @returns `false` when it was there or past it. */
  markRead(account: string, conversation: string, id: number): boolean;
  /** A page of a room's history. */
  roomPage(room: string, query: HistoryQuery): HistoryPage<RoomMessage>;
  /** A page of the DMs between two accounts. */
  directPage(account: string, other: string, query: HistoryQuery): HistoryPage<DirectMessage>;
  /** Unread messages of a room. */
  roomUnread(room: string, query: UnreadQuery): UnreadCount;
  /** Unread DMs from `other` to `account`. */
  directUnread(account: string, other: string, query: UnreadQuery): UnreadCount;
  /** The DM conversations of `account`, newest first, at most `limit`. */
  conversations(account: string, limit: number): StoredConversation[];
}

/** Count unread messages (oldest first) up to a cap; shared by the stores. */
export function countUnread(
  messages: Iterable<{ readonly from: string; readonly text: string }>,
  query: UnreadQuery,
): UnreadCount {
  const self = foldName(query.self);
  let count = 0;
  let mentioned = false;
  for (const message of messages) {
    if (foldName(message.from) === self) continue;
    if (count === query.cap) return { count, capped: true, mentioned };
    count++;
    if (!mentioned && query.mentions(message.text)) mentioned = true;
  }
  return { count, capped: false, mentioned };
}

/** Take the newest `limit` of ascending `list` matching the query. */
function pageOf<T extends { readonly id: number }>(
  list: readonly T[],
  query: HistoryQuery,
): HistoryPage<T> {
  const before = query.before ?? Infinity;
  const after = query.after ?? -Infinity;
  const matching = list.filter((m) => m.id < before && m.id > after);
  if (query.limit <= 0) return { messages: [], truncated: matching.length > 0 };
  return {
    messages: matching.slice(-query.limit),
    truncated: matching.length > query.limit,
  };
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
  #roomInfo = new Map<string, { topic: string; created: number; members: Set<string> }>();
  #markers = new Map<string, number>();

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

  ensureRoom(room: string, ts: number): void {
    if (!this.#roomInfo.has(room)) {
      this.#roomInfo.set(room, { topic: "", created: ts, members: new Set() });
    }
  }

  roomCount(): number {
    return this.#roomInfo.size;
  }

  rooms(): StoredRoom[] {
    return [...this.#roomInfo.keys()].sort().map((name) => this.room(name)!);
  }

  room(room: string): StoredRoom | undefined {
    const info = this.#roomInfo.get(room);
    if (info === undefined) return undefined;
    return { name: room, topic: info.topic, created: info.created, members: info.members.size };
  }

  setTopic(room: string, topic: string): void {
    const info = this.#roomInfo.get(room);
    if (info !== undefined) info.topic = topic;
  }

  roomsOf(account: string): string[] {
    return [...this.#roomInfo].filter(([, info]) => info.members.has(account))
      .map(([name]) => name).sort();
  }

  addMember(account: string, room: string): boolean {
    const info = this.#roomInfo.get(room);
    if (info === undefined || info.members.has(account)) return false;
    info.members.add(account);
    return true;
  }

  removeMember(account: string, room: string): boolean {
    return this.#roomInfo.get(room)?.members.delete(account) ?? false;
  }

  forgetAccount(account: string): number {
    let forgotten = 0;
    for (const info of this.#roomInfo.values()) {
      if (info.members.delete(account)) forgotten++;
    }
    const prefix = `${account} `;
    for (const key of this.#markers.keys()) {
      if (key.startsWith(prefix) && this.#markers.delete(key)) forgotten++;
    }
    return forgotten;
  }

  deleteRoom(room: string): boolean {
    const marker = ` #${room}`;
    for (const key of this.#markers.keys()) {
      if (key.endsWith(marker)) this.#markers.delete(key);
    }
    return this.#roomInfo.delete(room);
  }

  lastRead(account: string, conversation: string): number {
    return this.#markers.get(`${account} ${conversation}`) ?? 0;
  }

  markRead(account: string, conversation: string, id: number): boolean {
    const key = `${account} ${conversation}`;
    if ((this.#markers.get(key) ?? 0) >= id) return false;
    this.#markers.set(key, id);
    return true;
  }

  roomPage(room: string, query: HistoryQuery): HistoryPage<RoomMessage> {
    return pageOf(this.#rooms.get(room) ?? [], query);
  }

  directPage(account: string, other: string, query: HistoryQuery): HistoryPage<DirectMessage> {
    return pageOf(this.#between(account, other), query);
  }

  roomUnread(room: string, query: UnreadQuery): UnreadCount {
    const list = this.#rooms.get(room) ?? [];
    return countUnread(list.filter((m) => m.id > query.after), query);
  }

  directUnread(account: string, other: string, query: UnreadQuery): UnreadCount {
    return countUnread(this.#between(account, other).filter((m) => m.id > query.after), query);
  }

  conversations(account: string, limit: number): StoredConversation[] {
    const found = new Map<string, StoredConversation>();
    for (let i = this.#direct.length - 1; i >= 0 && found.size < limit; i--) {
      const { dm, accounts } = this.#direct[i]!;
      if (accounts === undefined) continue;
      const outgoing = accounts.from === account;
      if (!outgoing && accounts.to !== account) continue;
      const other = outgoing ? accounts.to : accounts.from;
      if (!found.has(other)) {
        found.set(other, { account: other, name: outgoing ? dm.to : dm.from, lastId: dm.id });
      }
    }
    return [...found.values()];
  }

  #between(account: string, other: string): DirectMessage[] {
    return this.#direct.filter(({ accounts: a }) =>
      a !== undefined &&
      ((a.from === account && a.to === other) || (a.from === other && a.to === account))
    ).map(({ dm }) => dm);
  }
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
 * markers, and makes a room for every room found in old messages.
 */
export const SCHEMA_VERSION = 2;

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

/** Bring a file of an older schema up to {@linkcode SCHEMA_VERSION}. */
function migrate(db: DatabaseSync): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get();
  const version = typeof row?.["value"] === "number" ? row["value"] : 1;
  if (version >= SCHEMA_VERSION) return;
  db.exec(`
INSERT INTO rooms (name, topic, created)
  SELECT room, '', MIN(ts) FROM messages WHERE room IS NOT NULL GROUP BY room
  ON CONFLICT (name) DO NOTHING;
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
