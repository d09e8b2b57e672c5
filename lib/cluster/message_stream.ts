/**
 * Room messages and DMs of a cluster in one JetStream stream: a message's id
 * is its stream sequence, so every instance, and every receiver on it, sees
 * a room's messages in one order. A room's subject is
 * `banter.msg.room.<room>`, a DM's `banter.msg.dm.<a>.<b>` (the two account
 * ids, sorted), each name as a {@linkcode kvToken}. Each instance follows the
 * stream with an ordered consumer from the last sequence it knows and fans
 * out locally; history pages are read back by subject. Retention and the
 * total quota are the stream's `max_age` and `max_bytes`.
 *
 * @module
 */
import {
  jetstream,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { headers, type NatsConnection, nuid } from "@nats-io/transport-node";
import type { DirectMessage, RoomMessage } from "../chat/message.ts";
import type { DirectAccounts, HistoryPage, HistoryQuery } from "../chat/history.ts";
import { isRecord } from "../util/is_record.ts";
import { kvToken } from "./kv_mirror.ts";
import { followStream, type FollowStreamOptions, type StreamFollower } from "./stream_follower.ts";

/** The stream's name. */
export const MESSAGE_STREAM = "BANTER_MESSAGES";

/** Every message subject starts with this. */
export const MESSAGE_SUBJECT_PREFIX = "banter.msg";

/** Bound on one try of a publish's acknowledgement. */
export const PUBLISH_TIMEOUT_MS = 2_000;

/**
 * Tries of one publish (a replicated stream may be electing a leader after
 * losing a node). Each carries the same message id, so the stream's
 * duplicate window stores a retried message once.
 */
export const PUBLISH_TRIES = 15;

/** A stored message as it comes back: the message (its id the sequence) and, for a DM, its accounts. */
export interface StreamedMessage {
  readonly message: RoomMessage | DirectMessage;
  /** A DM's sender and recipient account ids. */
  readonly accounts?: DirectAccounts;
}

/** Options for {@linkcode MessageStream.open}. */
export interface MessageStreamOptions {
  /** Copies of the stream: 1 on one NATS server, 3 on a 3-node cluster. @default {1} */
  replicas?: number;
  /** Days a message is kept (`--retention-days`); 0 keeps none past now. */
  retentionDays: number;
  /** Bytes the stream holds at most (`--history-total-bytes`); the oldest go first. */
  maxBytes: number;
}

/** Options for {@linkcode MessageStream.publishRoom} and {@linkcode MessageStream.publishDirect}. */
export interface PublishOptions {
  /** The de-duplication id (kept for the stream's duplicate window). @default a fresh nuid */
  msgID?: string;
  /** Headers stored with the message (e.g. where a migrated message came from). */
  headers?: Readonly<Record<string, string>>;
}

/** Without its id, which the stream gives. */
type Unsaved<T> = Omit<T, "id">;

/** The cluster's message stream; see the module doc. */
export class MessageStream {
  #js: JetStreamClient;
  #jsm: JetStreamManager;

  private constructor(js: JetStreamClient, jsm: JetStreamManager) {
    this.#js = js;
    this.#jsm = jsm;
  }

  /**
   * Create the stream, or bring an existing one's limits up to `options`.
   *
   * @param nc The cluster connection.
   * @param options Replicas and limits.
   * @returns The stream.
   */
  static async open(nc: NatsConnection, options: MessageStreamOptions): Promise<MessageStream> {
    const jsm = await jetstreamManager(nc);
    const config = {
      name: MESSAGE_STREAM,
      subjects: [`${MESSAGE_SUBJECT_PREFIX}.>`],
      num_replicas: options.replicas ?? 1,
      // 0 means "no limit" to JetStream: keep one millisecond instead.
      max_age: Math.max(1, options.retentionDays * 86_400_000) * 1_000_000,
      max_bytes: options.maxBytes,
      // History pages are read with direct gets (next by subject).
      allow_direct: true,
    };
    try {
      await jsm.streams.info(MESSAGE_STREAM);
      await jsm.streams.update(MESSAGE_STREAM, config);
    } catch (error) {
      if (!(error instanceof Error) || error.name !== "StreamNotFoundError") throw error;
      await jsm.streams.add(config);
    }
    return new MessageStream(jetstream(nc), jsm);
  }

  /**
   * Use the stream as it is, its limits untouched (a tool that is not the
   * instances' configuration, e.g. the migration, must not change them).
   *
   * @param nc The cluster connection.
   * @returns The stream, or `undefined` when there is none yet.
   */
  static async existing(nc: NatsConnection): Promise<MessageStream | undefined> {
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(MESSAGE_STREAM);
    } catch (error) {
      if (error instanceof Error && error.name === "StreamNotFoundError") return undefined;
      throw error;
    }
    return new MessageStream(jetstream(nc), jsm);
  }

  /**
   * Store a room message; resolves once the stream has it, with its id.
   *
   * @param message The message, without an id.
   * @param options Its de-duplication id and headers.
   * @returns The message with its id (the stream sequence).
   */
  async publishRoom(
    message: Unsaved<RoomMessage>,
    options: PublishOptions = {},
  ): Promise<RoomMessage> {
    const seq = await this.#publish(roomSubject(message.room), { message }, options);
    return { ...message, id: seq };
  }

  /**
   * Store a DM between two accounts; resolves once the stream has it.
   *
   * @param message The DM, without an id.
   * @param accounts Its sender's and recipient's account ids.
   * @param options Its de-duplication id and headers.
   * @returns The DM with its id.
   */
  async publishDirect(
    message: Unsaved<DirectMessage>,
    accounts: DirectAccounts,
    options: PublishOptions = {},
  ): Promise<DirectMessage> {
    const seq = await this.#publish(directSubject(accounts.from, accounts.to), {
      message,
      accounts,
    }, options);
    return { ...message, id: seq };
  }

  async #publish(subject: string, body: unknown, options: PublishOptions): Promise<number> {
    const stored = options.headers === undefined ? undefined : headers();
    for (const [name, value] of Object.entries(options.headers ?? {})) stored?.set(name, value);
    const ack = await this.#js.publish(subject, JSON.stringify(body), {
      timeout: PUBLISH_TIMEOUT_MS,
      retries: PUBLISH_TRIES,
      msgID: options.msgID ?? nuid.next(),
      ...(stored === undefined ? {} : { headers: stored }),
    });
    return ack.seq;
  }

  /**
   * Follow every message stored after `afterSeq`, in stream order, with an
   * ordered consumer that is made again from the last sequence delivered
   * when it is lost (a lost link, or its NATS node died; see
   * `stream_follower.ts`). Each message is delivered once.
   *
   * @param afterSeq The last sequence this instance has delivered (0: all).
   * @param listener Called once per message, in order.
   * @param options Stall detection and a re-creation report.
   * @returns The follower (stop it when done).
   */
  async follow(
    afterSeq: number,
    listener: (streamed: StreamedMessage) => void,
    options: Pick<FollowStreamOptions, "onRecreate" | "stallMs" | "clock"> = {},
  ): Promise<StreamFollower> {
    const follower = await followStream(this.#js, {
      stream: MESSAGE_STREAM,
      filter: `${MESSAGE_SUBJECT_PREFIX}.>`,
      from: { afterSeq },
      onMessage: (msg) => {
        const streamed = decode(msg.seq, msg.data);
        if (streamed !== undefined) listener(streamed);
      },
      ...options,
    });
    return follower;
  }

  /**
   * A page of a room's history, as `HistoryStore.roomPage` has it.
   *
   * @param room The room.
   * @param query Bounds and limit.
   * @returns The newest `limit` matching messages, oldest first.
   */
  async roomPage(room: string, query: HistoryQuery): Promise<HistoryPage<RoomMessage>> {
    return await this.#page(
      roomSubject(room),
      query,
      (m): m is RoomMessage => m.kind === "message",
    );
  }

  /**
   * A page of the DMs between two accounts.
   *
   * @param account One account id.
   * @param other The other.
   * @param query Bounds and limit.
   * @returns The newest `limit` matching DMs, oldest first.
   */
  async directPage(
    account: string,
    other: string,
    query: HistoryQuery,
  ): Promise<HistoryPage<DirectMessage>> {
    return await this.#page(
      directSubject(account, other),
      query,
      (m): m is DirectMessage => m.kind === "dm",
    );
  }

  /** Walk one subject from `after` by next-by-subject reads, keeping the newest `limit` below `before`. */
  async #page<T extends RoomMessage | DirectMessage>(
    subject: string,
    query: HistoryQuery,
    is: (message: RoomMessage | DirectMessage) => message is T,
  ): Promise<HistoryPage<T>> {
    const kept: T[] = [];
    let truncated = false;
    let seq = (query.after ?? 0) + 1;
    while (query.before === undefined || seq < query.before) {
      let stored;
      try {
        stored = await this.#jsm.direct.getMessage(MESSAGE_STREAM, { seq, next_by_subj: subject });
      } catch (error) {
        if (isNotFound(error)) break;
        throw error;
      }
      if (stored === null || (query.before !== undefined && stored.seq >= query.before)) break;
      const streamed = decode(stored.seq, stored.data);
      if (streamed !== undefined && is(streamed.message)) {
        kept.push(streamed.message);
        if (kept.length > query.limit) {
          kept.shift();
          truncated = true;
        }
      }
      seq = stored.seq + 1;
    }
    return { messages: kept, truncated };
  }
}

/** A room's subject. */
export function roomSubject(room: string): string {
  return `${MESSAGE_SUBJECT_PREFIX}.room.${kvToken(room)}`;
}

/** The subject of the DMs between two accounts, the same both ways. */
export function directSubject(a: string, b: string): string {
  const [first, second] = a < b ? [a, b] : [b, a];
  return `${MESSAGE_SUBJECT_PREFIX}.dm.${kvToken(first)}.${kvToken(second)}`;
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.status === 404;
}

/** A stored entry back into a message with `seq` as its id; undefined when it does not parse. */
function decode(seq: number, data: Uint8Array): StreamedMessage | undefined {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (!isRecord(body) || !isRecord(body.message)) return undefined;
  const m = body.message;
  if (typeof m.from !== "string" || typeof m.text !== "string" || typeof m.ts !== "number") {
    return undefined;
  }
  if (m.kind === "message" && typeof m.room === "string") {
    return { message: { ...(m as unknown as Unsaved<RoomMessage>), id: seq } };
  }
  const accounts = body.accounts;
  if (
    m.kind === "dm" && typeof m.to === "string" && isRecord(accounts) &&
    typeof accounts.from === "string" && typeof accounts.to === "string"
  ) {
    return {
      message: { ...(m as unknown as Unsaved<DirectMessage>), id: seq },
      accounts: { from: accounts.from, to: accounts.to },
    };
  }
  return undefined;
}
