/**
 * What the chat domain says to its members. Each kind of event is its own
 * type; the protocol layer turns them into wire frames (once per broadcast).
 *
 * @module
 */
import { foldName } from "./_names.ts";

/** What a member may do. `operator` is the server's own console. */
export type Role = "user" | "admin" | "operator";

/** A line said in a room. */
export interface RoomMessage {
  readonly kind: "message";
  /** Increasing per hub; survives restarts when history is stored. */
  readonly id: number;
  readonly room: string;
  readonly from: string;
  readonly text: string;
  /** Server time, ms since the epoch. */
  readonly ts: number;
  /** A `/me` action rather than plain speech. */
  readonly action?: boolean;
  /** Said by a bot (e.g. the joke bot), not a person. */
  readonly bot?: boolean;
}

/** A private message between two users. */
export interface DirectMessage {
  readonly kind: "dm";
  readonly id: number;
  readonly from: string;
  readonly to: string;
  readonly text: string;
  readonly ts: number;
}

/** Someone entered or left a room. */
export interface PresenceEvent {
  readonly kind: "join" | "leave";
  readonly room: string;
  readonly user: string;
  readonly ts: number;
  /** Why they left (quit, kicked, timeout, ...). */
  readonly reason?: string;
}

/**
 * A client's name for one of its requests, echoed on what answers it: a
 * string of at most 64 characters or a safe integer.
 */
export type RequestRef = string | number;

/** A system line for one member: command replies, hints, warnings. */
export interface NoticeEvent {
  readonly kind: "notice";
  readonly level: "info" | "warn" | "error";
  readonly text: string;
  readonly ts: number;
  /** The request this answers, when it named one. */
  readonly ref?: RequestRef;
}

/**
 * Sent to a member when it enters a room: who is there and recent history.
 * Members that see all their rooms also get the room's topic, read marker
 * and unread count.
 */
export interface RoomEntered {
  readonly kind: "room";
  readonly room: string;
  /** Names present (online in the room), sorted. */
  readonly members: readonly string[];
  readonly history: readonly (RoomMessage)[];
  /** How long the room keeps history, in days; 0 when it keeps none. */
  readonly retentionDays: number;
  /** The rest is for members that see all rooms. */
  readonly topic?: string;
  /** More history was missed than `history` holds. */
  readonly truncated?: boolean;
  readonly lastRead?: number;
  readonly unread?: number;
  /** There are more unread messages than `unread`. */
  readonly unreadCapped?: boolean;
  /** An unread message mentions the member. */
  readonly mentioned?: boolean;
  readonly ref?: RequestRef;
}

/** An account stopped being a member of a room (all rooms view). */
export interface PartEvent {
  readonly kind: "part";
  readonly room: string;
  readonly user: string;
  readonly ts: number;
}

/** An account came online, went offline, or changed its away text. */
export interface OnlineEvent {
  readonly kind: "presence";
  readonly user: string;
  readonly online: boolean;
  /** Set while the user is away. */
  readonly away?: string;
  readonly ts: number;
}

/** A room's topic changed. */
export interface TopicEvent {
  readonly kind: "topic";
  readonly room: string;
  /** `""` when cleared. */
  readonly text: string;
  readonly by: string;
  readonly ts: number;
}

/** Where a read marker is: a room or the DM conversation with a user. */
export type Conversation =
  | { readonly room: string; readonly with?: undefined }
  | { readonly with: string; readonly room?: undefined };

/** The member's account read up to `lastRead` (sent to its other sessions). */
export type ReadEvent = { readonly kind: "read"; readonly lastRead: number } & Conversation;

/** One user in a `/who` answer. */
export interface WhoEntry {
  readonly name: string;
  readonly role: Role;
  readonly away?: string;
}

/** One room in a `/rooms` answer. */
export interface RoomsEntry {
  readonly name: string;
  readonly topic: string;
  /** Member accounts, online or not. */
  readonly members: number;
}

/** One command in a `/help` answer. */
export interface HelpEntry {
  readonly name: string;
  /** e.g. `/msg USER TEXT`. */
  readonly usage: string;
  readonly summary: string;
}

/** What `/who`, `/rooms` and `/help` answer, as data. */
export type ListingEvent =
  | {
    readonly kind: "who";
    readonly room: string;
    readonly users: readonly WhoEntry[];
    readonly ref?: RequestRef;
  }
  | {
    readonly kind: "rooms";
    readonly rooms: readonly RoomsEntry[];
    /** Rooms left out of `rooms` (it holds those with the most members); absent when none. */
    readonly more?: number;
    readonly ref?: RequestRef;
  }
  | { readonly kind: "help"; readonly commands: readonly HelpEntry[]; readonly ref?: RequestRef };

/** A page of a room's or a DM conversation's history, oldest first. */
export type HistoryEvent =
  & {
    readonly kind: "history";
    readonly messages: readonly (RoomMessage | DirectMessage)[];
    readonly truncated: boolean;
    readonly ref?: RequestRef;
  }
  & Conversation;

/** One DM conversation as listed at login. */
export interface ConversationEntry {
  /** The other user. */
  readonly with: string;
  readonly lastId: number;
  readonly lastRead: number;
  readonly unread: number;
  readonly unreadCapped: boolean;
}

/** The member's DM conversations, after the rooms at login. */
export interface ConversationsEvent {
  readonly kind: "conversations";
  readonly conversations: readonly ConversationEntry[];
}

/** Everything of the login replay was sent. */
export interface ReadyEvent {
  readonly kind: "ready";
}

/** Everything the hub can deliver to a member. */
export type ChatEvent =
  | RoomMessage
  | DirectMessage
  | PresenceEvent
  | NoticeEvent
  | RoomEntered
  | PartEvent
  | OnlineEvent
  | TopicEvent
  | ReadEvent
  | ListingEvent
  | HistoryEvent
  | ConversationsEvent
  | ReadyEvent;

/**
 * Events a member that sees one room at a time (`Member.view` `"room"`,
 * the protocol's version 1) is ever given.
 */
export const ONE_ROOM_EVENT_KINDS = ["message", "dm", "join", "leave", "notice", "room"] as const;

/**
 * Every reason the chat domain closes a member's connection: the one list,
 * which the wire protocol extends with its own session-level codes.
 * `replaced` means the same user signed in from another connection, which
 * took over (no longer sent: an account has several sessions);
 * `too_many_sessions` that this, the account's oldest session, made room
 * for a newer one (see `Hub.enter`); `denied` that the account was removed or its
 * password changed (see `Hub.updateAccount`).
 */
export const CLOSE_CODES = [
  "end",
  "kicked",
  "banned",
  "shutdown",
  "overflow",
  "replaced",
  "denied",
  "too_many_sessions",
] as const;

/** One of {@linkcode CLOSE_CODES}. */
export type CloseCode = typeof CLOSE_CODES[number];

/** Why the hub asks a member's connection to close. */
export interface CloseReason {
  /** Which of {@linkcode CLOSE_CODES} applies. */
  readonly code: CloseCode;
  /** Human-readable text for the user. */
  readonly message: string;
}

/**
 * A participant as the hub sees it. Implemented by the session layer (a
 * network user) and by the server console (the operator). `deliver` must not
 * block: implementations queue.
 */
export interface Member {
  readonly name: string;
  readonly role: Role;
  /**
   * The stable id of the member's account: DMs and rate limits follow the
   * account, not the name, so an account created later under the same name
   * inherits neither. Without one (the operator console) the member is
   * known by {@linkcode accountKeyOf}'s name-based key.
   */
  readonly account?: string;
  /**
   * What the member is shown: `"room"` one room at a time (its current
   * room, the last it joined), `"all"` every room it is a member of, with
   * data answers, read markers and unread counts. @default "room"
   */
  readonly view?: "room" | "all";
  /**
   * Per room, the newest message id the member already has: its `room`
   * event then holds only newer history. @default none
   */
  readonly resume?: Readonly<Record<string, number>>;
  /** Queue an event for this member. Never throws, never awaits. */
  deliver(event: ChatEvent): void;
  /** Ask the member's connection to close after sending `reason`. */
  close(reason: CloseReason): void;
}

/**
 * The key the hub keeps a member's DMs and rate state under: its account id,
 * or for a member without an account `~` and its name with ASCII letters
 * lowercased (`~` never occurs in an account id).
 *
 * @param member Whose key.
 * @returns The key.
 */
export function accountKeyOf(member: Pick<Member, "name" | "account">): string {
  return member.account ?? `~${foldName(member.name)}`;
}
