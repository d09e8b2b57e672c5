/**
 * Who is online across the cluster, for `/who`: each instance keeps one
 * entry in a NATS KV bucket listing its logged-in users, written again every
 * {@linkcode PRESENCE_REFRESH_MS}. An entry not refreshed for
 * {@linkcode PRESENCE_TTL_MS}, by the reader's own clock from when it last
 * saw the entry, no longer counts: an instance killed with -9 loses its
 * users' presence within that time. (nats-server 2.9 expires the bucket's
 * old entries with `max_age` but tells no watcher, so the reader judges age
 * itself.) A stopped instance deletes its entry, which every watcher sees.
 *
 * @module
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Clock, TimerId } from "../util/clock.ts";
import { isRecord } from "../util/is_record.ts";
import { KvMirror, kvToken } from "./kv_mirror.ts";

/** The bucket's name. */
export const PRESENCE_BUCKET = "banter_presence";

/** An entry older than this (as its reader saw it) is gone. */
export const PRESENCE_TTL_MS = 30_000;

/** How often each instance writes its entry again. */
export const PRESENCE_REFRESH_MS = 10_000;

/** One logged-in user. */
export interface PresentUser {
  /** The account id. */
  readonly account: string;
  /** The user name. */
  readonly name: string;
}

/** What one instance stores. */
interface InstanceEntry {
  readonly instance: string;
  readonly users: readonly PresentUser[];
}

/** Options for {@linkcode ClusterPresence.open}. */
export interface ClusterPresenceOptions {
  /** This instance's unique name. */
  instance: string;
  /** Time and the refresh timer. */
  clock: Clock;
  /** Copies of the bucket. @default {1} */
  replicas?: number;
  /** How long an entry counts after its last refresh; refreshed every third of it. @default {PRESENCE_TTL_MS} */
  ttlMs?: number;
  /** Called when a refresh cannot be written (the link is down); the next one tries again. */
  onError?: (error: Error) => void;
}

/** The presence bucket's storage TTL: the longest `--cluster-presence-ttl`. */
export const PRESENCE_BUCKET_TTL_MS = 3_600_000;

/** The cluster's presence; see the module doc. */
export class ClusterPresence implements AsyncDisposable {
  #mirror: KvMirror<InstanceEntry>;
  #options: ClusterPresenceOptions;
  #key: string;
  #own: readonly PresentUser[] = [];
  #seenAt = new Map<string, number>();
  #timer: TimerId;
  #stopSeen: () => void;

  private constructor(mirror: KvMirror<InstanceEntry>, options: ClusterPresenceOptions) {
    this.#mirror = mirror;
    this.#options = options;
    this.#key = `i.${kvToken(options.instance)}`;
    const now = options.clock.now();
    for (const [key] of mirror.entries()) this.#seenAt.set(key, now);
    this.#stopSeen = mirror.onChange((key, value) => {
      if (value === undefined) this.#seenAt.delete(key);
      else this.#seenAt.set(key, options.clock.now());
    });
    const ttlMs = options.ttlMs ?? PRESENCE_TTL_MS;
    this.#timer = options.clock.setInterval(
      () => void this.#write(),
      ttlMs === PRESENCE_TTL_MS ? PRESENCE_REFRESH_MS : Math.floor(ttlMs / 3),
    );
  }

  /**
   * Create or bind the bucket, load it and start refreshing this instance's entry.
   *
   * @param nc The cluster connection.
   * @param options Instance name, clock, replicas.
   * @returns The presence.
   */
  static async open(nc: NatsConnection, options: ClusterPresenceOptions): Promise<ClusterPresence> {
    const kv = await new Kvm(nc).create(PRESENCE_BUCKET, {
      history: 1,
      replicas: options.replicas ?? 1,
      // Storage is reclaimed too (silently, on 2.9); readers judge age themselves.
      // The longest TTL an instance may be set to, so every instance binds
      // the same bucket; each reader judges freshness by its own TTL.
      ttl: PRESENCE_BUCKET_TTL_MS,
    });
    const mirror = await KvMirror.open(kv, { ...ENTRY_CODEC, js: jetstream(nc) });
    return new ClusterPresence(mirror, options);
  }

  /**
   * Set this instance's logged-in users and write them at once.
   *
   * @param users Everyone logged in here.
   */
  async set(users: readonly PresentUser[]): Promise<void> {
    this.#own = [...users];
    await this.#write();
  }

  async #write(): Promise<void> {
    const entry: InstanceEntry = { instance: this.#options.instance, users: this.#own };
    try {
      await this.#mirror.update(this.#key, () => entry);
    } catch (error) {
      this.#options.onError?.(error as Error);
    }
  }

  /** How many instances have a fresh entry, this one included. */
  instances(): number {
    const cutoff = this.#options.clock.now() - (this.#options.ttlMs ?? PRESENCE_TTL_MS);
    let fresh = 1;
    for (const [key] of this.#mirror.entries()) {
      if (key !== this.#key && (this.#seenAt.get(key) ?? -Infinity) >= cutoff) fresh++;
    }
    return fresh;
  }

  /** Everyone online on other instances whose entry is fresh, each account once, in no order. */
  others(): PresentUser[] {
    const cutoff = this.#options.clock.now() - (this.#options.ttlMs ?? PRESENCE_TTL_MS);
    const found = new Map<string, PresentUser>();
    for (const [key, entry] of this.#mirror.entries()) {
      if (key === this.#key || (this.#seenAt.get(key) ?? -Infinity) < cutoff) continue;
      for (const user of entry.users) found.set(user.account, user);
    }
    return [...found.values()];
  }

  /** Everyone online on any instance whose entry is fresh, sorted by name, each account once. */
  who(): PresentUser[] {
    const cutoff = this.#options.clock.now() - (this.#options.ttlMs ?? PRESENCE_TTL_MS);
    const found = new Map<string, PresentUser>();
    for (const user of this.#own) found.set(user.account, user);
    for (const [key, entry] of this.#mirror.entries()) {
      if (key === this.#key || (this.#seenAt.get(key) ?? -Infinity) < cutoff) continue;
      for (const user of entry.users) found.set(user.account, user);
    }
    return [...found.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /**
   * Call `listener` on every presence change seen from another instance.
   *
   * @returns The unsubscribe.
   */
  onChange(listener: () => void): () => void {
    return this.#mirror.onChange(() => listener());
  }

  /** Stop refreshing and delete this instance's entry (a clean stop). */
  async close(): Promise<void> {
    this.#options.clock.clearInterval(this.#timer);
    this.#stopSeen();
    try {
      await this.#mirror.update(this.#key, () => undefined);
    } catch (error) {
      this.#options.onError?.(error as Error);
    }
    await this.#mirror.close();
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const ENTRY_CODEC = {
  decode(bytes: Uint8Array): InstanceEntry {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (
      !isRecord(value) || typeof value.instance !== "string" || !Array.isArray(value.users) ||
      !value.users.every((u) =>
        isRecord(u) && typeof u.account === "string" && typeof u.name === "string"
      )
    ) {
      throw new SyntaxError("Cannot read the presence entry: it is not an instance's users");
    }
    return value as unknown as InstanceEntry;
  },
  encode: (value: InstanceEntry) => new TextEncoder().encode(JSON.stringify(value)),
};
