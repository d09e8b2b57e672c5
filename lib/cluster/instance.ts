/**
 * One Banter instance's part in a cluster: it opens the shared state (KV
 * buckets), the message stream, presence and the control channel on a
 * connected link, gives the hub its `HistoryStore` and `MessageRelay`, and
 * once the hub exists ties them together: the stream's messages go to the
 * hub in stream order, other instances' kicks and bans close sessions here,
 * the link's state is told to users, and this instance's users are kept in
 * the presence bucket.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Clock } from "../util/clock.ts";
import type { HistoryStore } from "../chat/history.ts";
import type { CloseReason, DirectMessage, RoomMessage } from "../chat/message.ts";
import type { MessageRelay, RelayedMessage, RemoteUser } from "../chat/message_relay.ts";
import { ClusterHistory } from "./cluster_history.ts";
import { ClusterChatState } from "./kv_chat_state.ts";
import type { ClusterLink } from "./link.ts";
import { MESSAGE_STREAM, MessageStream } from "./message_stream.ts";
import { ClusterPresence } from "./presence.ts";
import { ClusterControl } from "./control.ts";

const log = getLogger(["banter", "cluster"]);

/** Told to every user here when the link goes. */
export const LINK_LOST_NOTICE =
  "Cluster link lost: messages cannot be sent until it is back (it reconnects by itself)";

/** A send refused while the link is down. */
export const LINK_LOST_REFUSAL =
  "Cannot send: the cluster link is lost, so it was not sent; try again when it is back";

const LINK_LOST = { notice: LINK_LOST_NOTICE, refusal: LINK_LOST_REFUSAL };

/** A send the stream refused: surely not stored. */
export const PUBLISH_REFUSED =
  "Cannot send: the cluster did not store it, so it was not sent; try again";

/** A send the stream did not answer in time: maybe stored, maybe not. */
export const PUBLISH_UNKNOWN =
  "Cannot confirm the send: the cluster did not answer in time; it may still appear — look before sending it again";

/** The longest a sender waits for the stream's answer. */
const PUBLISH_BOUND_MS = 10_000;

function isTimeout(error: unknown): boolean {
  return error instanceof Error && /timeout/i.test(`${error.name} ${error.message}`);
}

/** How long one step of a clean stop waits while the link is up. */
const CLOSE_STEP_MS = 5_000;

/** How often presence freshness is judged: a silent instance's users go within TTL + this. */
const PRESENCE_CHECK_MS = 1_000;

/** How often the stream lag and instance count are measured. */
const FIGURES_INTERVAL_MS = 5_000;

/** Where the instance's figures go (`/metrics`); every member optional in use. */
export interface ClusterFigures {
  linkUp: { set(value: number): void };
  publishSeconds: { sum: { inc(by: number): void }; count: { inc(): void } };
  publishFailures: { inc(): void };
  streamLag: { set(value: number): void };
  kvConflicts: { inc(): void };
  kvWriteFailures: { inc(): void };
  instances: { set(value: number): void };
}

/** Options for {@linkcode ClusterInstance.open}. */
export interface ClusterInstanceOptions {
  /** This instance's unique name. */
  instance: string;
  /** Time, presence refreshes and the figures' timer. */
  clock: Clock;
  /** Copies JetStream keeps of the stream and buckets. */
  replicas: number;
  /** How long a silent instance's users count online. */
  presenceTtlMs: number;
  /** Days a message is kept. */
  retentionDays: number;
  /** Bytes the stream holds at most. */
  maxBytes: number;
  /** The local copy of the stream (the instance's own SQLite file). */
  messages: HistoryStore;
  /** `/metrics` figures. */
  figures?: ClusterFigures;
}

/** What the hub needs of the instance once it exists. */
export interface ClusterHub {
  receive(relayed: RelayedMessage): void;
  setUnavailable(state: { notice: string; refusal: string } | undefined): void;
  closeUser(user: string, close: CloseReason, leaveReason: string): number;
  followMemberships(account: string, rooms: readonly string[]): void;
  followRead(account: string, conversation: string, lastRead: number): void;
  followTopic(room: string, topic: string): void;
  online(): { account: string; name: string }[];
  followPresence(account: string, name: string, online: boolean): void;
}

/** One instance's cluster parts; see the module doc. */
export class ClusterInstance implements AsyncDisposable {
  readonly #link: ClusterLink;
  readonly #options: ClusterInstanceOptions;
  readonly #state: ClusterChatState;
  readonly #stream: MessageStream;
  readonly #presence: ClusterPresence;
  readonly #control: ClusterControl;
  /** The hub's store. */
  readonly history: ClusterHistory;
  /** The hub's relay. */
  readonly relay: MessageRelay;
  #hub: ClusterHub | undefined;
  #follower: { stop(): Promise<void> } | undefined;
  #delivered = 0;
  #remote: readonly RemoteUser[] | undefined;
  #presenceDue = false;
  /** Users on other instances as last told to the hub, by account. */
  #seenRemote = new Map<string, string>();
  #stops: (() => void)[] = [];
  #figuresTimer: number | undefined;
  #closed: Promise<void> | undefined;
  #onAttach: (hub: ClusterHub) => void = () => {};

  private constructor(
    link: ClusterLink,
    options: ClusterInstanceOptions,
    parts: {
      state: ClusterChatState;
      stream: MessageStream;
      presence: ClusterPresence;
      control: ClusterControl;
    },
  ) {
    this.#link = link;
    this.#options = options;
    this.#state = parts.state;
    this.#stream = parts.stream;
    this.#presence = parts.presence;
    this.#control = parts.control;
    this.history = new ClusterHistory(options.messages, parts.state, {
      timers: options.clock,
      onWriteError: (what, error) => {
        options.figures?.kvWriteFailures.inc();
        log.error("Cannot store {what} in the cluster: {error}", { what, error: error.message });
      },
    });
    this.relay = {
      postRoom: (message) => this.#publish(() => this.#stream.publishRoom(message)),
      postDirect: (message, accounts) =>
        this.#publish(() => this.#stream.publishDirect(message, accounts)),
      remoteUsers: () => this.#remote ??= this.#presence.others(),
    };
  }

  /**
   * Open the buckets, the stream, presence and control on `link`.
   *
   * @param link The connected link.
   * @param options Name, clock, limits, the local message copy, figures.
   * @returns The instance, loaded, not yet attached to a hub.
   * @throws {Error} When a bucket or the stream cannot be opened or loaded.
   */
  static async open(link: ClusterLink, options: ClusterInstanceOptions): Promise<ClusterInstance> {
    const nc = link.connection;
    const state = await ClusterChatState.open(nc, {
      replicas: options.replicas,
      onConflict: () => options.figures?.kvConflicts.inc(),
      onBadEntry: (bucket, key, error) =>
        log.warn("Ignored a bad entry {key} in {bucket}: {error}", {
          bucket,
          key,
          error: error.message,
        }),
    });
    try {
      const stream = await MessageStream.open(nc, {
        replicas: options.replicas,
        retentionDays: options.retentionDays,
        maxBytes: options.maxBytes,
      });
      const presence = await ClusterPresence.open(nc, {
        instance: options.instance,
        clock: options.clock,
        replicas: options.replicas,
        ttlMs: options.presenceTtlMs,
        onError: (error) =>
          log.warn("Cannot refresh this instance's presence: {error}", { error: error.message }),
      });
      let hub: ClusterHub | undefined;
      const control = new ClusterControl(nc, options.instance, (command) => {
        hub?.closeUser(command.user, { code: command.code, message: command.reason }, command.code);
      });
      await control.ready();
      const instance = new ClusterInstance(link, options, { state, stream, presence, control });
      instance.#onAttach = (attached) => hub = attached;
      return instance;
    } catch (error) {
      await state.close();
      throw error;
    }
  }

  /** Whether the NATS link is up now. */
  get up(): boolean {
    return this.#link.up;
  }

  /**
   * Tie the hub in: follow the stream from the newest message the local
   * copy holds, follow other instances' changes, the link and presence.
   *
   * @param hub The hub whose store and relay this instance gave.
   */
  async attach(hub: ClusterHub): Promise<void> {
    this.#hub = hub;
    this.#onAttach(hub);
    const figures = this.#options.figures;
    this.history.listen({
      memberships: (account, rooms) => hub.followMemberships(account, rooms),
      read: (account, conversation, id) => hub.followRead(account, conversation, id),
      topic: (room, topic) => hub.followTopic(room, topic),
      banned: (record) => {
        const message = record.by === undefined
          ? "Banned"
          : record.reason
          ? `Banned by ${record.by}: ${record.reason}`
          : `Banned by ${record.by}`;
        hub.closeUser(record.name, { code: "banned", message }, "banned");
      },
    });
    this.#delivered = this.history.nextId() - 1;
    this.#follower = await this.#stream.follow(this.#delivered, (streamed) => {
      this.#delivered = Math.max(this.#delivered, streamed.message.id);
      try {
        hub.receive(streamed);
      } catch (error) {
        log.error("Cannot deliver message {id}: {error}", {
          id: streamed.message.id,
          error: (error as Error).message,
        });
      }
    });
    const onLink = (up: boolean) => {
      figures?.linkUp.set(up ? 1 : 0);
      hub.setUnavailable(up ? undefined : LINK_LOST);
      if (up) {
        log.info("Cluster link back");
        this.presenceChanged();
      } else log.warn("Cluster link lost: sends are refused until it is back");
    };
    this.#stops.push(this.#link.onChange(onLink));
    figures?.linkUp.set(this.#link.up ? 1 : 0);
    if (!this.#link.up) hub.setUnavailable(LINK_LOST);
    this.#stops.push(this.#presence.onChange(() => this.#comparePresence()));
    this.#comparePresence();
    // An instance that stops answering writes nothing: its entry ages out by this clock.
    const ageing = this.#options.clock.setInterval(
      () => this.#comparePresence(),
      PRESENCE_CHECK_MS,
    );
    this.#stops.push(() => this.#options.clock.clearInterval(ageing));
    this.#figuresTimer = this.#options.clock.setInterval(
      () => void this.#measure(),
      FIGURES_INTERVAL_MS,
    );
    this.presenceChanged();
  }

  /** Tell the hub of users who came online or went offline on other instances. */
  #comparePresence(): void {
    this.#remote = undefined;
    const hub = this.#hub;
    if (hub === undefined) return;
    const now = new Map(this.relay.remoteUsers().map((user) => [user.account, user.name]));
    for (const [account, name] of this.#seenRemote) {
      if (!now.has(account)) hub.followPresence(account, name, false);
    }
    for (const [account, name] of now) {
      if (!this.#seenRemote.has(account)) hub.followPresence(account, name, true);
    }
    this.#seenRemote = now;
  }

  /** This instance's users changed: write them to the presence bucket (once per turn). */
  presenceChanged(): void {
    if (this.#presenceDue || this.#hub === undefined) return;
    this.#presenceDue = true;
    queueMicrotask(() => {
      this.#presenceDue = false;
      this.#remote = undefined;
      const hub = this.#hub;
      if (hub !== undefined) void this.#presence.set(hub.online());
    });
  }

  /**
   * Tell every other instance to close `user`'s sessions (a kick or ban here).
   *
   * @param code `kicked` or `banned`.
   * @param message What the user is shown.
   */
  async closeUserElsewhere(
    user: string,
    code: "kicked" | "banned",
    message: string,
  ): Promise<void> {
    try {
      await this.#control.closeUser(user, code, message);
    } catch (error) {
      log.warn("Cannot tell other instances to close {user}: {error}", {
        user,
        error: (error as Error).message,
      });
    }
  }

  /** Stop handing the stream's messages to the hub (before the history is closed). */
  async stopFollowing(): Promise<void> {
    const follower = this.#follower;
    this.#follower = undefined;
    await this.#bounded(follower?.stop(), this.#link.up ? CLOSE_STEP_MS : 0);
  }

  /** Stop following, remove this instance's presence entry, close what it opened (not the link). */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#figuresTimer !== undefined) this.#options.clock.clearInterval(this.#figuresTimer);
      for (const stop of this.#stops.splice(0)) stop();
      // With the link down, writes still retrying are not waited for long:
      // what they held is in the buckets already, or was refused to its sender.
      const bound = this.#link.up ? CLOSE_STEP_MS : 0;
      await this.stopFollowing();
      await this.#bounded(this.history.settled(), bound);
      this.history.detach();
      await this.#bounded(this.#control.close(), bound);
      await this.#bounded(this.#presence.close(), bound);
      await this.#bounded(this.#state.close(), bound);
    })();
    return this.#closed;
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Wait for `step` at most `ms` (by the instance's clock); its failure is only logged. */
  async #bounded(step: Promise<unknown> | undefined, ms: number): Promise<void> {
    if (step === undefined) return;
    const clock = this.#options.clock;
    let timer: number | undefined;
    const late = new Promise<void>((resolve) => timer = clock.setTimeout(resolve, ms));
    try {
      await Promise.race([step.catch(() => undefined), late]);
    } finally {
      clock.clearTimeout(timer!);
    }
  }

  async #publish<T extends RoomMessage | DirectMessage>(post: () => Promise<T>): Promise<T> {
    if (!this.#link.up) throw new Error(LINK_LOST_REFUSAL);
    const figures = this.#options.figures;
    const started = performance.now();
    const clock = this.#options.clock;
    let timer: number | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = clock.setTimeout(() => resolve("late"), PUBLISH_BOUND_MS)
    );
    try {
      const stored = await Promise.race([post(), late]);
      if (stored === "late") {
        figures?.publishFailures.inc();
        log.warn("The stream did not answer a publish within {ms} ms", { ms: PUBLISH_BOUND_MS });
        throw new Error(PUBLISH_UNKNOWN);
      }
      figures?.publishSeconds.sum.inc((performance.now() - started) / 1000);
      figures?.publishSeconds.count.inc();
      return stored;
    } catch (error) {
      if ((error as Error).message === PUBLISH_UNKNOWN) throw error;
      figures?.publishFailures.inc();
      log.warn("The stream did not take a message: {error}", { error: (error as Error).message });
      // A timed-out publish may have been stored (only its answer lost).
      throw new Error(isTimeout(error) ? PUBLISH_UNKNOWN : PUBLISH_REFUSED);
    } finally {
      clock.clearTimeout(timer!);
    }
  }

  async #measure(): Promise<void> {
    const figures = this.#options.figures;
    if (figures === undefined) return;
    figures.instances.set(this.#presence.instances());
    if (!this.#link.up) return;
    try {
      const jsm = await jetstreamManager(this.#link.connection);
      const info = await jsm.streams.info(MESSAGE_STREAM);
      figures.streamLag.set(Math.max(0, info.state.last_seq - this.#delivered));
    } catch {
      // Measured again on the next tick.
    }
  }
}
