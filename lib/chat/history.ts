/**
 * The storage interface behind the hub: room messages, direct messages,
 * rooms, memberships, read markers, bans and the next message id, and the
 * query and page types its stores share. {@linkcode SqliteHistory} in
 * `sqlite_history.ts` persists to a file; {@linkcode MemoryHistory} in
 * `memory_history.ts` is for tests and history-less servers.
 *
 * @module
 */
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
