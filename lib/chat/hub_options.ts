/**
 * What a `Hub` is built with and reports: {@linkcode HubOptions}, the
 * limits clients are told ({@linkcode ChatLimits}), account changes and
 * moderation events, a member's handle ({@linkcode Presence}) and listing
 * ({@linkcode MemberInfo}), and the named limits' defaults.
 *
 * @module
 */
import type { TimeSource } from "../util/clock.ts";
import type { HistoryStore } from "./history.ts";
import type { JokeTeller } from "./jokes.ts";
import type { Role } from "./message.ts";
import type { ChatRequest, Outcome } from "./request.ts";
import type { MessageRelay } from "./message_relay.ts";
import type { TokenBucketOptions } from "./rate_limit.ts";

/** Longest room topic, in characters. */
export const MAX_TOPIC_LENGTH = 200;
/** Longest away text, in characters. */
export const MAX_AWAY_LENGTH = 100;
/** Unread messages counted per conversation; past it the count says "capped". */
export const UNREAD_CAP = 1000;
/** DM conversations listed at login. */
export const MAX_CONVERSATIONS = 100;
/** Rooms one account may be a member of. */
export const MAX_ROOMS_PER_ACCOUNT = 50;
/** Rooms the server keeps by default (a room lasts while it has members, so their number is bounded). */
export const DEFAULT_MAX_ROOMS = 10_000;
/** Rooms listed by `/rooms`: those with the most members; the rest are counted (`more`). */
export const MAX_LISTED_ROOMS = 200;
/** Sessions one account may have at once by default. */
export const DEFAULT_MAX_SESSIONS_PER_USER = 8;
/**
 * Accounts whose rate state the hub keeps by default. An account's bucket
 * outlives its sessions (logging in again does not refill it) until it is
 * full again; at the limit, full buckets of accounts not online are dropped
 * first, then the oldest of accounts not online.
 */
export const DEFAULT_MAX_RATE_ENTRIES = 10_000;

/** Options for `Hub`. */
export interface HubOptions {
  /** Timestamps, rate limits, cooldowns and retention all use it. */
  clock: TimeSource;
  /**
   * Where messages, DMs, bans and the message id are kept. The hub never
   * closes it. @default a fresh `MemoryHistory`
   */
  history?: HistoryStore;
  /** Messages of history sent on entering a room. @default 50 */
  historyLimit?: number;
  /** Longest message, in characters (code points). @default 4096 */
  maxMessageLength?: number;
  /**
   * Per-account token bucket for typed lines, kept across sessions
   * (`end`/`/quit` always pass; the
   * operator is not limited). @default {burst: 10, perSecond: 2}
   */
  rate?: TokenBucketOptions;
  /** Accounts whose rate state is kept. @default {DEFAULT_MAX_RATE_ENTRIES} */
  maxRateEntries?: number;
  /** Where jokes come from. Without it, jokes are "not configured". */
  joke?: JokeTeller;
  /** Time between two jokes asked by the same user. @default 10000 */
  jokeCooldownMs?: number;
  /**
   * Days of history kept; told to members and used by `Hub.prune`.
   * @default 30
   */
  retentionDays?: number;
  /** Called when an admin or the operator types `/shutdown`. */
  onShutdown?: (by: string) => void;
  /**
   * The role of an account that may be offline, so that `/ban` of an offline
   * admin follows the same rules as for an online one. Names are compared
   * ignoring case, as bans are: `roleOf("ALICE")` is alice's role (the
   * highest of several matches). When given, `/ban` of a name it does not
   * know (and that is not online) is refused unless it is `/ban --pre`.
   * @default none known (any name may be banned)
   */
  roleOf?: (name: string) => Role | undefined;
  /** Told of every kick, ban and unban (for the audit log). */
  onModeration?: (event: ModerationEvent) => void;
  /**
   * Sessions one account may have at once; a newer one closes the oldest
   * (code `too_many_sessions`). @default {DEFAULT_MAX_SESSIONS_PER_USER}
   */
  maxSessionsPerUser?: number;
  /** Rooms kept in all; past it no new room is made. @default {DEFAULT_MAX_ROOMS} */
  maxRooms?: number;
  /**
   * Rooms one account may create per hour (the operator is not limited).
   * @default {ROOMS_CREATED_PER_HOUR}
   */
  roomsCreatedPerHour?: number;
  /**
   * The account of a user who may be offline (name compared as user names
   * are), so DMs reach offline users and their history can be paged.
   * @default only online users are known
   */
  accountOf?: (name: string) => { readonly name: string; readonly account: string } | undefined;
  /**
   * Cluster mode: the shared log messages go through (see
   * `message_relay.ts`). With it, a posted message is delivered only when
   * the log hands it back to `Hub.receive`.
   * @default none: messages are stored in `history` and delivered at once
   */
  relay?: MessageRelay;
  /** Called after an account came online or went offline here (cluster presence). */
  onOnlineChange?: () => void;
}

/** The limits a client needs to know, from `Hub.limits`. */
export interface ChatLimits {
  /** Longest message, in code points. */
  readonly messageChars: number;
  /** Most lines in one message. */
  readonly messageLines: number;
  /** Requests per account: a bucket of `burst`, refilled at `perSecond`. */
  readonly rate: { readonly burst: number; readonly perSecond: number };
  /** Most messages in a `room` event or a history page. */
  readonly historyLimit: number;
  /** Sessions per account. */
  readonly maxSessions: number;
  /** Days history is kept; 0 keeps none. */
  readonly retentionDays: number;
}

/** A change to an account, for `Hub.updateAccount`. */
export type AccountUpdate =
  | { readonly account: string; readonly change: "removed" | "password" }
  | { readonly account: string; readonly change: "role"; readonly role: "user" | "admin" };

/** A moderation action, reported through {@linkcode HubOptions.onModeration}. */
export interface ModerationEvent {
  readonly action: "kick" | "ban" | "unban";
  /** Who acted. */
  readonly by: string;
  /** Whom it was done to, as typed: untrusted when `refused`. */
  readonly target: string;
  /** The target was not a valid user name, so nothing was done. */
  readonly refused?: true;
  /** A kick or ban: what the target's sessions were told as they were closed. */
  readonly message?: string;
}

/**
 * A member's handle on the hub, from `Hub.enter`. After the member
 * leaves or is closed by the hub, every method is a no-op.
 *
 * `Member.deliver` and `Member.close` must not call back into the hub
 * synchronously (e.g. `leave` on queue overflow): do it from a later task,
 * so every receiver sees events in the same order.
 */
export interface Presence {
  /** The member's name. */
  readonly name: string;
  /** The member's current room; `undefined` once gone. */
  readonly room: string | undefined;
  /** `false` once the member left or was closed. */
  readonly active: boolean;
  /** Handle one line the user typed (a `say` without a room). Never throws. */
  input(text: string): void;
  /**
   * Handle one request. Answers go to the member (carrying the request's
   * `ref`); a refusal is returned, not told. Never throws.
   */
  request(request: ChatRequest): Outcome;
  /** The connection went away; others see `leave`. @default "disconnected" */
  leave(reason?: string): void;
}

/** A member as listed by `Hub.members`. */
export interface MemberInfo {
  readonly name: string;
  readonly role: Role;
  /** The current room of its oldest session. */
  readonly room: string;
}
