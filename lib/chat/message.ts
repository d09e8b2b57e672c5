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

/** A system line for one member: command replies, hints, warnings. */
export interface NoticeEvent {
  readonly kind: "notice";
  readonly level: "info" | "warn" | "error";
  readonly text: string;
  readonly ts: number;
}

/** Sent to a member when it enters a room: who is there and recent history. */
export interface RoomEntered {
  readonly kind: "room";
  readonly room: string;
  readonly members: readonly string[];
  readonly history: readonly (RoomMessage)[];
  /** How long the room keeps history, in days; 0 when it keeps none. */
  readonly retentionDays: number;
}

/** Everything the hub can deliver to a member. */
export type ChatEvent =
  | RoomMessage
  | DirectMessage
  | PresenceEvent
  | NoticeEvent
  | RoomEntered;

/**
 * Every reason the chat domain closes a member's connection: the one list,
 * which the wire protocol extends with its own session-level codes.
 * `replaced` means the same user signed in from another connection, which
 * took over (see `Hub.enter`); `denied` that the account was removed or its
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
