/**
 * The hub's `HistoryStore` in cluster mode. Two local copies answer every
 * read at once, synchronously, as the hub needs:
 *
 * - messages and DMs: a local store (SQLite in the instance's data
 *   directory) filled only from the cluster's message stream, in stream
 *   order, so ids are stream sequences on every instance;
 * - rooms, topics, memberships, read markers and bans: a `MemoryHistory`
 *   loaded from the KV buckets at start and kept up to date from their
 *   changes.
 *
 * A change made here is applied to the local copy at once and written to
 * its bucket with compare-and-set; while such a write is in flight, the
 * bucket's news of that key is held back, and once it settles the local
 * copy takes what the bucket holds (so a concurrent change elsewhere is
 * merged, never lost). Changes made on other instances are applied as they
 * arrive and told to the hub (memberships, markers, topics) so its sessions
 * follow.
 *
 * @module
 */
import type {
  DirectAccounts,
  HistoryPage,
  HistoryQuery,
  HistoryStore,
  StoredConversation,
  StoredRoom,
  UnreadCount,
  UnreadQuery,
} from "../chat/history.ts";
import { MemoryHistory } from "../chat/memory_history.ts";
import type { BanDetails, BanRecord } from "../chat/bans.ts";
import type { DirectMessage, RoomMessage } from "../chat/message.ts";
import type { ClusterChatState } from "./kv_chat_state.ts";
import { systemClock, type Timers } from "../util/clock.ts";

/** First pause before a failed bucket write is tried again; it doubles up to {@linkcode MAX_RETRY_MS}. */
export const FIRST_RETRY_MS = 500;

/** Longest pause between tries of a failed bucket write. */
export const MAX_RETRY_MS = 10_000;

/** What a cluster history tells of changes made on other instances. */
export interface ClusterHistoryListener {
  /** An account's rooms changed. */
  memberships?(account: string, rooms: readonly string[]): void;
  /** A read marker moved. */
  read?(account: string, conversation: string, id: number): void;
  /** A room's topic changed. */
  topic?(room: string, topic: string): void;
  /** A user was banned. */
  banned?(record: BanRecord): void;
}

/** Options for {@linkcode ClusterHistory}. */
export interface ClusterHistoryOptions {
  /** Called when a bucket write fails (after its own retries); it is tried again until it is stored. */
  onWriteError?: (what: string, error: Error) => void;
  /** Where retries wait. @default systemClock */
  timers?: Pick<Timers, "setTimeout" | "clearTimeout">;
}

/** The cluster's `HistoryStore`; see the module doc. */
export class ClusterHistory implements HistoryStore {
  #messages: HistoryStore;
  #state: ClusterChatState;
  #local = new MemoryHistory({ maxMessages: 1 });
  #listener: ClusterHistoryListener = {};
  #onWriteError: (what: string, error: Error) => void;
  /** Bucket writes in flight, by the key they write (`m:account`, `r:room`, ...). */
  #inflight = new Map<string, number>();
  #unsubscribe: (() => void)[] = [];
  #writes = new Set<Promise<unknown>>();
  /** The last write of each key: the next one starts after it. */
  #chains = new Map<string, Promise<void>>();
  #timers: Pick<Timers, "setTimeout" | "clearTimeout">;
  #closed = false;
  /** Retries waiting, to be cancelled at close. */
  #retries = new Map<number, () => void>();

  /**
   * @param messages The local copy of the message stream (filled through `append`).
   * @param state The cluster's buckets, loaded.
   * @param options Write-failure report.
   */
  constructor(
    messages: HistoryStore,
    state: ClusterChatState,
    options: ClusterHistoryOptions = {},
  ) {
    this.#messages = messages;
    this.#state = state;
    this.#onWriteError = options.onWriteError ?? (() => {});
    this.#timers = options.timers ?? systemClock;
    for (const room of state.rooms()) {
      this.#local.ensureRoom(room.name, room.created);
      if (room.topic !== "") this.#local.setTopic(room.name, room.topic);
    }
    for (const [account, rooms] of state.memberships()) this.#applyMemberships(account, rooms);
    for (const [account, conversation, id] of state.markers()) {
      this.#local.markRead(account, conversation, id);
    }
    for (const ban of state.bans(Number.MAX_SAFE_INTEGER)) this.#applyBan(ban.name, ban);
    this.#unsubscribe.push(
      state.onMembership((account, rooms) => {
        if (this.#busy(`m:${account}`)) return;
        if (this.#applyMemberships(account, rooms)) this.#listener.memberships?.(account, rooms);
      }),
      state.onMarker((account, conversation, id) => {
        if (this.#busy(`k:${account}:${conversation}`)) return;
        if (this.#local.markRead(account, conversation, id)) {
          this.#listener.read?.(account, conversation, id);
        }
      }),
      state.onRoom((name, room) => {
        if (this.#busy(`r:${name}`)) return;
        this.#applyRoom(name, room);
      }),
      state.onBanChange((user, record) => {
        if (this.#busy(`b:${user.toLowerCase()}`)) return;
        this.#applyBan(user, record);
      }),
    );
  }

  /** Where changes from other instances are told (the hub, once it exists). */
  listen(listener: ClusterHistoryListener): void {
    this.#listener = listener;
  }

  /** Resolves when every bucket write started so far has settled. */
  async settled(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /** Stop following the buckets (they are closed by their owner) and give up waiting retries. */
  detach(): void {
    this.#closed = true;
    for (const stop of this.#unsubscribe.splice(0)) stop();
    for (const [id, cancel] of this.#retries) {
      this.#timers.clearTimeout(id);
      cancel();
    }
    this.#retries.clear();
  }

  // --- messages: the local copy of the stream ---

  append(message: RoomMessage | DirectMessage, accounts?: DirectAccounts): void {
    this.#messages.append(message, accounts);
  }
  recent(room: string, limit: number): RoomMessage[] {
    return this.#messages.recent(room, limit);
  }
  recentDirect(account: string, limit: number): DirectMessage[] {
    return this.#messages.recentDirect(account, limit);
  }
  nextId(): number {
    return this.#messages.nextId();
  }
  prune(olderThanTs: number): number {
    return this.#messages.prune(olderThanTs);
  }
  commit(): void {
    this.#messages.commit();
  }
  close(): void {
    this.detach();
    this.#messages.close();
  }
  roomPage(room: string, query: HistoryQuery): HistoryPage<RoomMessage> {
    return this.#messages.roomPage(room, query);
  }
  directPage(account: string, other: string, query: HistoryQuery): HistoryPage<DirectMessage> {
    return this.#messages.directPage(account, other, query);
  }
  roomUnread(room: string, query: UnreadQuery): UnreadCount {
    return this.#messages.roomUnread(room, query);
  }
  directUnread(account: string, other: string, query: UnreadQuery): UnreadCount {
    return this.#messages.directUnread(account, other, query);
  }
  conversations(account: string, limit: number): StoredConversation[] {
    return this.#messages.conversations(account, limit);
  }

  // --- shared state: the local copy of the buckets ---

  ban(user: string, ts: number, details?: BanDetails): void {
    if (this.#local.isBanned(user)) return;
    this.#local.ban(user, ts, details);
    this.#write(
      `b:${user.toLowerCase()}`,
      "a ban",
      () => this.#state.ban(user, ts, details),
      () => {
        this.#applyBan(user, this.#state.banOf(user));
      },
    );
  }
  banOf(user: string): BanRecord | undefined {
    return this.#local.banOf(user);
  }
  bans(limit: number): BanRecord[] {
    return this.#local.bans(limit);
  }
  unban(user: string): boolean {
    if (!this.#local.unban(user)) return false;
    this.#write(`b:${user.toLowerCase()}`, "an unban", () => this.#state.unban(user), () => {
      this.#applyBan(user, this.#state.banOf(user));
    });
    return true;
  }
  isBanned(user: string): boolean {
    return this.#local.isBanned(user);
  }
  ensureRoom(room: string, ts: number): void {
    if (this.#local.room(room) !== undefined) return;
    this.#local.ensureRoom(room, ts);
    this.#write(`r:${room}`, "a room", () => this.#state.ensureRoom(room, ts), () => {
      this.#applyRoom(room, this.#state.room(room));
    });
  }
  rooms(): StoredRoom[] {
    return this.#local.rooms();
  }
  roomCount(): number {
    return this.#local.roomCount();
  }
  room(room: string): StoredRoom | undefined {
    return this.#local.room(room);
  }
  setTopic(room: string, topic: string): void {
    const created = this.#local.room(room)?.created ?? 0;
    this.#local.setTopic(room, topic);
    this.#write(`r:${room}`, "a topic", () => this.#state.setTopic(room, topic, created), () => {
      this.#applyRoom(room, this.#state.room(room));
    });
  }
  roomsOf(account: string): string[] {
    return this.#local.roomsOf(account);
  }
  addMember(account: string, room: string): boolean {
    if (!this.#local.addMember(account, room)) return false;
    this.#membershipWrite(account, () => this.#state.addMember(account, room));
    return true;
  }
  removeMember(account: string, room: string): boolean {
    if (!this.#local.removeMember(account, room)) return false;
    this.#membershipWrite(account, () => this.#state.removeMember(account, room));
    return true;
  }
  forgetAccount(account: string): number {
    const forgotten = this.#local.forgetAccount(account);
    this.#membershipWrite(account, () => this.#state.forgetAccount(account));
    return forgotten;
  }
  deleteRoom(room: string): boolean {
    if (!this.#local.deleteRoom(room)) return false;
    this.#write(`r:${room}`, "a room's removal", async () => {
      // After this instance's own membership writes (the part that emptied
      // the room): the bucket's member count must hold them before it is judged.
      await this.#chainsSettled("m:");
      await this.#state.deleteRoom(room);
    }, () => {
      this.#applyRoom(room, this.#state.room(room));
    });
    return true;
  }
  lastRead(account: string, conversation: string): number {
    return this.#local.lastRead(account, conversation);
  }
  markRead(account: string, conversation: string, id: number): boolean {
    if (!this.#local.markRead(account, conversation, id)) return false;
    const key = `k:${account}:${conversation}`;
    this.#write(key, "a read marker", () => this.#state.markRead(account, conversation, id), () => {
      const stored = this.#state.lastRead(account, conversation);
      if (this.#local.markRead(account, conversation, stored)) {
        this.#listener.read?.(account, conversation, stored);
      }
    });
    return true;
  }

  /** The local copy's size in bytes (the message copy's, where it keeps one). */
  get bytes(): number {
    return (this.#messages as { bytes?: number }).bytes ?? 0;
  }

  #membershipWrite(account: string, write: () => Promise<unknown>): void {
    this.#write(`m:${account}`, "a membership", write, () => {
      const rooms = this.#state.membershipsOf(account);
      if (this.#applyMemberships(account, rooms)) this.#listener.memberships?.(account, rooms);
    });
  }

  /**
   * Write to a bucket in the background; while writes of `key` are in
   * flight its news is held back, and after the last one `reconcile` takes
   * what the bucket holds.
   */
  #write(key: string, what: string, write: () => Promise<unknown>, reconcile: () => void): void {
    this.#inflight.set(key, (this.#inflight.get(key) ?? 0) + 1);
    // Writes of one key go one after another, retries included, so they are
    // stored in the order they were made (a ban, then its unban).
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const done = previous.then(() => this.#untilStored(what, write)).then((stored) => {
      const left = (this.#inflight.get(key) ?? 1) - 1;
      if (left > 0) this.#inflight.set(key, left);
      else {
        this.#inflight.delete(key);
        // Only after a stored write: a failed one must not undo the change here.
        if (stored) reconcile();
      }
      this.#writes.delete(done);
      if (this.#chains.get(key) === done) this.#chains.delete(key);
    });
    this.#chains.set(key, done);
    this.#writes.add(done);
  }

  /** Resolves when the writes in flight of every key starting with `prefix` have settled. */
  async #chainsSettled(prefix: string): Promise<void> {
    const pending = [...this.#chains].filter(([key]) => key.startsWith(prefix)).map(([, p]) => p);
    await Promise.all(pending);
  }

  /**
   * Write until the bucket takes it (a lost link, an R3 election): the local
   * copy keeps the change meanwhile, so a ban stays a ban. Each failure is
   * reported; the pause doubles up to {@linkcode MAX_RETRY_MS}.
   *
   * @returns Whether it was stored (not when the history was closed first).
   */
  async #untilStored(what: string, write: () => Promise<unknown>): Promise<boolean> {
    for (let pause = FIRST_RETRY_MS; !this.#closed; pause = Math.min(pause * 2, MAX_RETRY_MS)) {
      try {
        await write();
        return true;
      } catch (error) {
        this.#onWriteError(what, error as Error);
      }
      if (this.#closed) break;
      const waited = await new Promise<boolean>((resolve) => {
        const id = this.#timers.setTimeout(() => {
          this.#retries.delete(id);
          resolve(true);
        }, pause);
        this.#retries.set(id, () => resolve(false));
      });
      if (!waited) break;
    }
    return false;
  }

  #busy(key: string): boolean {
    return this.#inflight.has(key);
  }

  /** Make the local copy hold exactly `rooms` for `account`. @returns whether it changed */
  #applyMemberships(account: string, rooms: readonly string[]): boolean {
    const now = new Set(rooms);
    let changed = false;
    for (const room of this.#local.roomsOf(account)) {
      if (!now.has(room)) changed = this.#local.removeMember(account, room) || changed;
    }
    for (const room of now) {
      if (this.#local.room(room) === undefined) this.#local.ensureRoom(room, 0);
      changed = this.#local.addMember(account, room) || changed;
    }
    return changed;
  }

  #applyRoom(name: string, room: { topic: string; created: number } | undefined): void {
    const held = this.#local.room(name);
    if (room === undefined) {
      if (held === undefined) return;
      if (held.members === 0) {
        this.#local.deleteRoom(name);
        return;
      }
      // Deleted elsewhere as its last member left, while one joined here:
      // the room stands, with its topic.
      const { topic, created } = held;
      this.#write(`r:${name}`, "a room", async () => {
        await this.#state.ensureRoom(name, created);
        if (topic !== "") await this.#state.setTopic(name, topic, created);
      }, () => {});
      return;
    }
    if (held === undefined) this.#local.ensureRoom(name, room.created);
    if ((held?.topic ?? "") !== room.topic) {
      this.#local.setTopic(name, room.topic);
      this.#listener.topic?.(name, room.topic);
    }
  }

  #applyBan(user: string, record: BanRecord | undefined): void {
    if (record === undefined) {
      this.#local.unban(user);
      return;
    }
    if (this.#local.isBanned(record.name)) return;
    this.#local.ban(
      record.name,
      record.ts,
      record.by === undefined ? undefined : { by: record.by, reason: record.reason ?? "" },
    );
    this.#listener.banned?.(record);
  }
}
