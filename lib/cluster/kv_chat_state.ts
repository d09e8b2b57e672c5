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
} as const;

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

  private constructor(
    bans: KvMirror<BanRecord>,
    members: KvMirror<readonly string[]>,
    read: KvMirror<number>,
  ) {
    this.#bans = bans;
    this.#members = members;
    this.#read = read;
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
    return new ClusterChatState(bans, members, read);
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
    const stops = [this.#bans, this.#members, this.#read].map((mirror) =>
      mirror.onChange(() => listener())
    );
    return () => stops.forEach((stop) => stop());
  }

  /** Stop following the buckets. */
  async close(): Promise<void> {
    await Promise.all([this.#bans.close(), this.#members.close(), this.#read.close()]);
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

const MARKER_CODEC = jsonCodec(
  (value): value is number => Number.isSafeInteger(value) && (value as number) >= 0,
  "a message id",
);
