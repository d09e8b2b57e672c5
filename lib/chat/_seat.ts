/**
 * The hub's private record of online accounts and their sessions:
 * {@linkcode Account} and {@linkcode Seat}.
 *
 * @module
 */
import type { Member, RequestRef, Role } from "./message.ts";
import type { TokenBucket } from "./rate_limit.ts";

/** One online account and its sessions. */
export interface Account {
  /** `accountKeyOf` its members. */
  readonly key: string;
  /** `foldName` of its name. */
  readonly nameKey: string;
  readonly name: string;
  /** Starts as the first member's role, follows `Hub.updateAccount`. */
  role: Role;
  /** Oldest first. */
  readonly seats: Seat[];
  /** Rooms it is a member of (stored). */
  readonly rooms: Set<string>;
  away: string | undefined;
  readonly bucket: TokenBucket;
  readonly mentions: (text: string) => boolean;
}

/** One session of an account. */
export interface Seat {
  readonly member: Member;
  readonly account: Account;
  /** Sees every room of its account, not only the current one. */
  readonly wide: boolean;
  /** The current room: where a line without a room goes. */
  room: string;
  active: boolean;
  /** A "slow down" notice was sent and no line has passed since. */
  throttled: boolean;
  /** The request being handled, whose answers carry its ref. */
  ref: RequestRef | undefined;
  /** The first refusal told while handling a request with a ref. */
  failure: string | undefined;
}
