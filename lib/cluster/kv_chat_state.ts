/**
 * Bans, room memberships and read markers of a cluster, in three NATS KV
 * buckets, each held in memory by a {@linkcode KvMirror}: reads are
 * synchronous, as the `HistoryStore` interface has them; writes are
 * compare-and-set on the entry's revision (async), so two instances banning,
 * joining or marking read at once lose nothing. What one instance writes,
 * the others read once their watch delivers it (eventually consistent, about
 * one round trip).
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { boundReason } from "../chat/bans.ts";
import type { BanDetails, BanRecord } from "../chat/bans.ts";
import { foldName } from "../chat/_names.ts";
import { isRecord } from "../util/is_record.ts";
import { KvMirror, type KvMirrorOptions, kvToken } from "./kv_mirror.ts";

/** The buckets' names. */
export const CHAT_BUCKETS = {
  bans: "banter_bans",
  members: "banter_members",
  read: "banter_read",
  rooms: "banter_rooms",
} as const;

/** A room as the rooms bucket holds it (members are counted from the memberships). */
export interface ClusterRoom {
  readonly name: string;
  /** `""` when none was set. */
  readonly topic: string;
  /** When the room was first joined (ms since the epoch). */
  readonly created: number;
}

/** Options for {@linkcode ClusterChatState.open}. */
export interface ClusterChatStateOptions {
  /** Copies of each bucket: 1 on one NATS server, 3 on a 3-node cluster. @default {1} */
  replicas?: number;
  /** Called once per lost compare-and-set (for `/metrics`). */
  onConflict?: () => void;
  /** Called for a stored entry that does not decode. */
  onBadEntry?: (bucket: string, key: string, error: Error) => void;
}

/** The bans, memberships and read markers of a cluster; see the module doc. */
export class ClusterChatState implements AsyncDisposable {
  #bans: KvMirror<BanRecord>;
  #members: KvMirror<readonly string[]>;
  #read: KvMirror<number>;
  #rooms: KvMirror<ClusterRoom>;
  /** Member count per room, kept from the memberships mirror's changes. */
  #counts = new Map<string, number>();
  /** The rooms of each account key as last counted. */
  #counted = new Map<string, readonly string[]>();

  private constructor(
    bans: KvMirror<BanRecord>,
    members: KvMirror<readonly string[]>,
    read: KvMirror<number>,
    rooms: KvMirror<ClusterRoom>,
  ) {
    this.#bans = bans;
    this.#members = members;
    this.#read = read;
    this.#rooms = rooms;
    for (const [key, list] of members.entries()) this.#count(key, list);
    members.onChange((key, list) => this.#count(key, list));
  }

  #count(key: string, list: readonly string[] | undefined): void {
    for (const room of this.#counted.get(key) ?? []) {
      const left = (this.#counts.get(room) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(room);
      else this.#counts.set(room, left);
    }
    if (list === undefined || list.length === 0) this.#counted.delete(key);
    else {
      this.#counted.set(key, list);
      for (const room of list) this.#counts.set(room, (this.#counts.get(room) ?? 0) + 1);
    }
  }

  /**
   * Create or bind the buckets and load them.
   *
   * @param nc The cluster connection.
   * @param options Replicas, conflict and bad-entry reports.
   * @returns The state, loaded.
   */
  static async open(
    nc: NatsConnection,
    options: ClusterChatStateOptions = {},
  ): Promise<ClusterChatState> {
    const kvm = new Kvm(nc);
    const js = jetstream(nc);
    const bucket = (name: string) =>
      kvm.create(name, { history: 1, replicas: options.replicas ?? 1 });
    const mirror = async <T>(name: string, codec: Codec<T>) =>
      await KvMirror.open(await bucket(name), {
        ...codec,
        js,
        ...(options.onConflict ? { onConflict: options.onConflict } : {}),
        onBadEntry: (key, error) => options.onBadEntry?.(name, key, error),
      });
    const bans = await mirror(CHAT_BUCKETS.bans, BAN_CODEC);
    const members = await mirror(CHAT_BUCKETS.members, ROOMS_CODEC);
    const read = await mirror(CHAT_BUCKETS.read, MARKER_CODEC);
    const rooms = await mirror(CHAT_BUCKETS.rooms, ROOM_CODEC);
    return new ClusterChatState(bans, members, read, rooms);
  }

  /** The ban of `user` (case-insensitive), if banned. */
  banOf(user: string): BanRecord | undefined {
    return this.#bans.get(banKey(user));
  }

  /** Whether `user` is banned. */
  isBanned(user: string): boolean {
    return this.banOf(user) !== undefined;
  }

  /** The newest `limit` bans, newest first. */
  bans(limit: number): BanRecord[] {
    return [...this.#bans.entries()].map(([, record]) => record)
      .sort((a, b) => b.ts - a.ts).slice(0, Math.max(0, limit));
  }

  /**
   * Ban `user` as of `ts`; the first ban and its details stand.
   *
   * @returns `false` when `user` was banned already.
   */
  async ban(user: string, ts: number, details?: BanDetails): Promise<boolean> {
    const record: BanRecord = {
      name: user,
      ts,
      ...(details ? { by: details.by, reason: boundReason(details.reason) } : {}),
    };
    let banned = false;
    await this.#bans.update(banKey(user), (current) => {
      banned = current === undefined;
      return current ?? record;
    });
    return banned;
  }

  /** Lift a ban. @returns `false` when `user` was not banned. */
  async unban(user: string): Promise<boolean> {
    let lifted = false;
    await this.#bans.update(banKey(user), (current) => {
      lifted = current !== undefined;
      return undefined;
    });
    return lifted;
  }

  /** The rooms `account` is a member of, sorted. */
  roomsOf(account: string): string[] {
    return [...(this.#members.get(kvToken(account)) ?? [])];
  }

  /** Make `account` a member of `room`. @returns `false` when it was one. */
  async addMember(account: string, room: string): Promise<boolean> {
    let added = false;
    await this.#members.update(kvToken(account), (current = []) => {
      added = !current.includes(room);
      return added ? [...current, room].sort() : current;
    });
    return added;
  }

  /** @returns `false` when `account` was not a member of `room`. */
  async removeMember(account: string, room: string): Promise<boolean> {
    let removed = false;
    await this.#members.update(kvToken(account), (current) => {
      removed = current?.includes(room) ?? false;
      if (!removed) return current;
      const rest = current!.filter((name) => name !== room);
      return rest.length === 0 ? undefined : rest;
    });
    return removed;
  }

  /** How many accounts are members of `room`. */
  memberCount(room: string): number {
    return this.#counts.get(room) ?? 0;
  }

  /** The room, if it exists. */
  room(name: string): ClusterRoom | undefined {
    return this.#rooms.get(kvToken(name));
  }

  /** Every room, sorted by name. */
  rooms(): ClusterRoom[] {
    return [...this.#rooms.entries()].map(([, room]) => room)
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /** How many rooms there are. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Make `room` exist (with no topic) if it does not. @returns `false` when it did. */
  async ensureRoom(name: string, ts: number): Promise<boolean> {
    let made = false;
    await this.#rooms.update(kvToken(name), (current) => {
      made = current === undefined;
      return current ?? { name, topic: "", created: ts };
    });
    return made;
  }

  /** Set a room's topic (`""` clears it); a room that does not exist is made. */
  async setTopic(name: string, topic: string, ts: number): Promise<void> {
    await this.#rooms.update(kvToken(name), (current) => ({
      name,
      topic,
      created: current?.created ?? ts,
    }));
  }

  /**
   * Forget a room (its topic; memberships naming it are removed by their
   * accounts' next change, and read markers stay until then).
   *
   * @returns `false` when there was no such room.
   */
  async deleteRoom(name: string): Promise<boolean> {
    let deleted = false;
    await this.#rooms.update(kvToken(name), (current) => {
      // A member joined elsewhere meanwhile (as the memberships show): it stays.
      deleted = current !== undefined && this.memberCount(name) === 0;
      return deleted ? undefined : current;
    });
    return deleted;
  }

  /**
   * Forget a removed account's memberships and its read markers.
   *
   * @returns How many memberships and markers were forgotten.
   */
  async forgetAccount(account: string): Promise<number> {
    let forgotten = 0;
    await this.#members.update(kvToken(account), (current) => {
      forgotten = current?.length ?? 0;
      return undefined;
    });
    const prefix = `${kvToken(account)}.`;
    const markers = [...this.#read.entries()].filter(([key]) => key.startsWith(prefix));
    await Promise.all(markers.map(([key]) => this.#read.update(key, () => undefined)));
    return forgotten + markers.length;
  }

  /**
   * Call `listener` with the account key whose memberships changed, own or
   * another instance's change.
   *
   * @returns The unsubscribe.
   */
  onMembership(listener: (account: string, rooms: readonly string[]) => void): () => void {
    return this.#members.onChange((key, list) => {
      const account = fromKvToken(key);
      if (account !== undefined) listener(account, list ?? []);
    });
  }

  /** Every account's rooms, as held now. */
  *memberships(): IterableIterator<[account: string, rooms: readonly string[]]> {
    for (const [key, rooms] of this.#members.entries()) {
      const account = fromKvToken(key);
      if (account !== undefined) yield [account, rooms];
    }
  }

  /** Every read marker, as held now. */
  *markers(): IterableIterator<[account: string, conversation: string, id: number]> {
    for (const [key, id] of this.#read.entries()) {
      const parsed = parseMarkerKey(key);
      if (parsed !== undefined) yield [parsed.account, parsed.conversation, id];
    }
  }

  /** The memberships of `account` as the bucket holds them now. */
  membershipsOf(account: string): readonly string[] {
    return this.#members.get(kvToken(account)) ?? [];
  }

  /**
   * Call `listener` on every read marker change seen, own or another instance's.
   *
   * @returns The unsubscribe.
   */
  onMarker(listener: (account: string, conversation: string, id: number) => void): () => void {
    return this.#read.onChange((key, id) => {
      const parsed = parseMarkerKey(key);
      if (parsed !== undefined && id !== undefined) {
        listener(parsed.account, parsed.conversation, id);
      }
    });
  }

  /**
   * Call `listener` on every room change seen (`undefined`: deleted).
   *
   * @returns The unsubscribe.
   */
  onRoom(listener: (name: string, room: ClusterRoom | undefined) => void): () => void {
    return this.#rooms.onChange((key, room) => {
      const name = room?.name ?? fromKvToken(key);
      if (name !== undefined) listener(name, room);
    });
  }

  /**
   * Call `listener` on every ban change seen (`undefined`: lifted), with the
   * folded name.
   *
   * @returns The unsubscribe.
   */
  onBanChange(listener: (user: string, record: BanRecord | undefined) => void): () => void {
    return this.#bans.onChange((key, record) => {
      const user = record?.name ?? fromKvToken(key);
      if (user !== undefined) listener(user, record);
    });
  }

  /** The id `account` has read up to in `conversation` (`#room` or `@account`); 0 when none. */
  lastRead(account: string, conversation: string): number {
    return this.#read.get(markerKey(account, conversation)) ?? 0;
  }

  /** Move the marker forward to `id`. @returns `false` when it was there or past it. */
  async markRead(account: string, conversation: string, id: number): Promise<boolean> {
    let moved = false;
    await this.#read.update(markerKey(account, conversation), (current = 0) => {
      moved = id > current;
      return moved ? id : current;
    });
    return moved;
  }

  /**
   * Call `listener` with the name of every ban seen, own or another
   * instance's, so each instance can close the banned user's sessions.
   *
   * @returns The unsubscribe.
   */
  onBan(listener: (record: BanRecord) => void): () => void {
    return this.#bans.onChange((_key, record) => {
      if (record !== undefined) listener(record);
    });
  }

  /**
   * Call `listener` after every change seen in any of the buckets, own or
   * another instance's.
   *
   * @returns The unsubscribe.
   */
  onChange(listener: () => void): () => void {
    const stops = [this.#bans, this.#members, this.#read, this.#rooms].map((mirror) =>
      mirror.onChange(() => listener())
    );
    return () => stops.forEach((stop) => stop());
  }

  /** Stop following the buckets. */
  async close(): Promise<void> {
    await Promise.all([
      this.#bans.close(),
      this.#members.close(),
      this.#read.close(),
      this.#rooms.close(),
    ]);
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

type Codec<T> = Pick<KvMirrorOptions<T>, "decode" | "encode">;

function banKey(user: string): string {
  return kvToken(foldName(user));
}

function markerKey(account: string, conversation: string): string {
  return `${kvToken(account)}.${kvToken(conversation)}`;
}

function parseMarkerKey(key: string): { account: string; conversation: string } | undefined {
  const [a, c, more] = key.split(".");
  if (a === undefined || c === undefined || more !== undefined) return undefined;
  const account = fromKvToken(a);
  const conversation = fromKvToken(c);
  return account === undefined || conversation === undefined
    ? undefined
    : { account, conversation };
}

function jsonCodec<T>(check: (value: unknown) => value is T, what: string): Codec<T> {
  return {
    decode(bytes) {
      const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (!check(value)) throw new SyntaxError(`Cannot read the entry: it is not ${what}`);
      return value;
    },
    encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  };
}

const BAN_CODEC = jsonCodec(
  (value): value is BanRecord =>
    isRecord(value) && typeof value.name === "string" && Number.isSafeInteger(value.ts) &&
    (value.by === undefined || typeof value.by === "string") &&
    (value.reason === undefined || typeof value.reason === "string"),
  "a ban",
);

const ROOMS_CODEC = jsonCodec(
  (value): value is readonly string[] =>
    Array.isArray(value) && value.every((room) => typeof room === "string"),
  "a list of rooms",
);

const ROOM_CODEC = jsonCodec(
  (value): value is ClusterRoom =>
    isRecord(value) && typeof value.name === "string" && typeof value.topic === "string" &&
    Number.isSafeInteger(value.created),
  "a room",
);

/** The text a {@linkcode kvToken} stands for, if it decodes. */
function fromKvToken(token: string): string | undefined {
  try {
    const binary = atob(token.replaceAll("-", "+").replaceAll("_", "/"));
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

const MARKER_CODEC = jsonCodec(
  (value): value is number => Number.isSafeInteger(value) && (value as number) >= 0,
  "a message id",
);
