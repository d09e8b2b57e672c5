/**
 * {@linkcode MemoryHistory}: a {@linkcode HistoryStore} in memory, bounded
 * per room, for tests and history-less servers.
 *
 * @module
 */
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
 * import { MemoryHistory } from "./memory_history.ts";
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

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  // Trim in batches so a full room does not shift the array per message.
  if (list.length > max + Math.ceil(max / 4)) list.splice(0, list.length - max);
}
