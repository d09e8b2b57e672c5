/**
 * Follow a JetStream stream in order, from a sequence or from the last
 * message of each subject, and keep following it when the NATS node serving
 * the consumer dies.
 *
 * The client's ordered consumer is R1: it lives on one NATS node. When that
 * node is killed, the client (nats.js 3.4) asks for the consumer's info
 * again and again, and only re-creates it on "consumer not found"; for a
 * consumer whose node is gone the info request just times out, so it never
 * comes back (seen on a 3-node nats-server 2.9 cluster: a follower stuck for
 * good while the stream, R3, went on storing). So the follower here watches
 * for signs of life itself: a message, or one of the server's idle
 * heartbeats (every half pull). When none came for {@linkcode FOLLOW_STALL_MS},
 * it drops that consumer and creates a new one from
 * the sequence after the last one it delivered, again and again with a
 * bounded pause until one is made. A message is handed on once, in stream
 * order, whichever consumer brought it.
 *
 * @module
 */
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { type Clock, delay, systemClock, type TimerId } from "../util/clock.ts";
import { retryTransient } from "./transient.ts";

/** How long one pull waits; the server's idle heartbeat comes every half of it. */
export const FOLLOW_PULL_EXPIRES_MS = 2_000;

/**
 * No message and no heartbeat for this long: the consumer is taken for lost
 * and made again. Five heartbeats' worth, so a busy machine that delays one
 * does not cause a needless re-creation (which would be harmless: it resumes
 * after the last sequence delivered). While the link is down the tries fail
 * and are repeated every {@linkcode FOLLOW_RETRY_MAX_MS} until it is back.
 */
export const FOLLOW_STALL_MS = 5_000;

/** How often the follower checks for a stall. */
export const FOLLOW_CHECK_MS = 1_000;

/** The longest pause between two tries to re-create a lost consumer. */
export const FOLLOW_RETRY_MAX_MS = 2_000;

/**
 * A consumer nobody pulls from is removed by the server after this long, so
 * one dropped here (its node may come back) does not linger for the
 * client's default five minutes.
 */
export const FOLLOW_INACTIVE_MS = 60_000;

/** Where a follower begins. */
export type FollowFrom =
  /** Every message after this sequence (0: all). */
  | { readonly afterSeq: number }
  /** The last message of each subject, then every new one (a KV bucket's state). */
  | "last-per-subject";

/** Options for {@linkcode followStream}. */
export interface FollowStreamOptions {
  /** The stream's name. */
  stream: string;
  /** The subjects followed (one filter, wildcards allowed). */
  filter: string;
  /** Where to begin. */
  from: FollowFrom;
  /** Called once per message, in stream order. */
  onMessage(msg: JsMsg): void;
  /** Called each time a lost consumer is dropped to be made again (for logs and tests). */
  onRecreate?: () => void;
  /** Time for the stall checks and the pauses. @default systemClock */
  clock?: Clock;
  /** @default {FOLLOW_STALL_MS} */
  stallMs?: number;
}

/** A running follower. */
export interface StreamFollower extends AsyncDisposable {
  /** The last stream sequence handed on (0 when none yet). */
  readonly lastSeq: number;
  /** The current consumer's name (for tests that kill the node holding it). */
  readonly consumerName: string;
  /** Stop following; idempotent. */
  stop(): Promise<void>;
}

/**
 * Start following; resolves once the first consumer exists.
 *
 * @param js The JetStream client of the link.
 * @param options Stream, filter, start, the listener.
 * @returns The follower.
 * @throws {Error} When the first consumer cannot be made (no such stream; a
 * transient failure still there after `TRANSIENT_DEADLINE_MS`).
 */
export async function followStream(
  js: JetStreamClient,
  options: FollowStreamOptions,
): Promise<StreamFollower> {
  const follower = new Follower(js, options);
  await follower.start();
  return follower;
}

class Follower implements StreamFollower {
  #js: JetStreamClient;
  #options: FollowStreamOptions;
  #clock: Clock;
  #lastSeq: number;
  /** Bumped per consumer; a message from an older one is dropped. */
  #generation = 0;
  #messages: ConsumerMessages | undefined;
  #consumerName = "";
  #lastSign = 0;
  #timer: TimerId | undefined;
  #remaking: Promise<void> | undefined;
  #stopped = new AbortController();

  constructor(js: JetStreamClient, options: FollowStreamOptions) {
    this.#js = js;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#lastSeq = options.from === "last-per-subject" ? 0 : options.from.afterSeq;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get consumerName(): string {
    return this.#consumerName;
  }

  async start(): Promise<void> {
    // A NATS node just lost: no leader yet, or the consumer placed on the dead node.
    await retryTransient(() => this.#open(this.#options.from), { clock: this.#clock });
    this.#timer = this.#clock.setInterval(() => this.#check(), FOLLOW_CHECK_MS);
  }

  /** Make a consumer from `from` and consume it. */
  async #open(from: FollowFrom): Promise<void> {
    const config: Partial<OrderedConsumerOptions> = from === "last-per-subject"
      ? {
        filter_subjects: this.#options.filter,
        deliver_policy: DeliverPolicy.LastPerSubject,
        inactive_threshold: FOLLOW_INACTIVE_MS,
      }
      : {
        filter_subjects: this.#options.filter,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from.afterSeq + 1,
        inactive_threshold: FOLLOW_INACTIVE_MS,
      };
    const consumer = await this.#js.consumers.get(this.#options.stream, config);
    if (this.#stopped.signal.aborted) return;
    const generation = ++this.#generation;
    const messages = await consumer.consume({
      expires: FOLLOW_PULL_EXPIRES_MS,
      callback: (msg) => {
        if (generation !== this.#generation) return;
        this.#lastSign = this.#clock.now();
        if (msg.seq <= this.#lastSeq) return;
        this.#lastSeq = msg.seq;
        this.#options.onMessage(msg);
      },
    });
    if (this.#stopped.signal.aborted || generation !== this.#generation) {
      messages.stop();
      return;
    }
    this.#messages = messages;
    this.#consumerName = (await consumer.info(true)).name;
    this.#lastSign = this.#clock.now();
    void (async () => {
      for await (const event of messages.status()) {
        if (generation !== this.#generation) break;
        // Only what the server sent counts as a sign of life.
        if (SERVER_EVENTS.has(event.type)) this.#lastSign = this.#clock.now();
      }
    })().catch(() => undefined);
  }

  #check(): void {
    if (this.#remaking !== undefined || this.#stopped.signal.aborted) return;
    const stall = this.#options.stallMs ?? FOLLOW_STALL_MS;
    if (this.#clock.now() - this.#lastSign < stall) return;
    this.#remaking = this.#remake().finally(() => this.#remaking = undefined);
  }

  /** Drop the current consumer and make a new one after the last sequence, until one is made. */
  async #remake(): Promise<void> {
    this.#options.onRecreate?.();
    this.#generation++;
    this.#messages?.stop();
    this.#messages = undefined;
    for (let attempt = 0; !this.#stopped.signal.aborted; attempt++) {
      try {
        await this.#open({ afterSeq: this.#lastSeq });
        return;
      } catch {
        // No meta leader, no stream leader, or the link is down: try again.
        const pause = Math.min(FOLLOW_RETRY_MAX_MS, 250 * 2 ** attempt);
        await delay(this.#clock, pause, this.#stopped.signal).catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped.signal.aborted) return;
    this.#stopped.abort();
    this.#clock.clearInterval(this.#timer);
    this.#generation++;
    await this.#remaking;
    await this.#messages?.close().catch(() => undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Consumer status events that come from the server (the others are the client's own). */
const SERVER_EVENTS = new Set(["heartbeat", "discard", "debug", "ordered_consumer_recreated"]);
