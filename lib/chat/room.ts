/**
 * A room: a set of members and the one loop that delivers to them.
 *
 * @module
 */
import type { ChatEvent, Member } from "./message.ts";

/** The room every member enters first. It always exists. */
export const LOBBY = "lobby";

/** Longest room name, in characters. */
export const MAX_ROOM_NAME_LENGTH = 32;

const ROOM_NAME = /^[a-z0-9_-]+$/;

/**
 * Turn what a user typed into a room name: lowercased, 1–32 characters of
 * `a-z`, `0-9`, `_` and `-`. A leading `#` is dropped.
 *
 * @param input The name as typed.
 * @returns The room name.
 * @throws {SyntaxError} When the name is empty, too long or has other characters.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseRoomName } from "./room.ts";
 *
 * deepEqual(parseRoomName("#Dev-Ops"), "dev-ops");
 * ```
 */
export function parseRoomName(input: string): string {
  const name = input.trim().replace(/^#/, "").toLowerCase();
  if (
    name.length === 0 || name.length > MAX_ROOM_NAME_LENGTH ||
    !ROOM_NAME.test(name)
  ) {
    throw new SyntaxError(
      `Cannot use room name "${input.trim()}": use 1-${MAX_ROOM_NAME_LENGTH} characters a-z 0-9 _ -`,
    );
  }
  return name;
}

/**
 * Members in one room. {@linkcode broadcast} hands the same event object to
 * every member (the session layer encodes it once) in one plain loop.
 */
export class Room {
  /** The room's name, already validated. */
  readonly name: string;
  #members = new Set<Member>();
  /** Names in sort order, kept up to date on add and delete (never re-sorted). */
  #names: string[] = [];

  /** @param name A name from {@linkcode parseRoomName} or {@linkcode LOBBY}. */
  constructor(name: string) {
    this.name = name;
  }

  /** How many members are in the room. */
  get size(): number {
    return this.#members.size;
  }

  /** Put a member in the room. */
  add(member: Member): void {
    if (this.#members.has(member)) return;
    this.#members.add(member);
    this.#names.splice(this.#position(member.name), 0, member.name);
  }

  /** Take a member out. @returns `false` when it was not here. */
  delete(member: Member): boolean {
    if (!this.#members.delete(member)) return false;
    const at = this.#position(member.name);
    if (this.#names[at] === member.name) this.#names.splice(at, 1);
    return true;
  }

  /** Members' names, sorted (a copy). */
  names(): string[] {
    return this.#names.slice();
  }

  /** Where `name` is or would go in the sorted names (binary search). */
  #position(name: string): number {
    let low = 0;
    let high = this.#names.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#names[mid]! < name) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Deliver one event to everyone here.
   *
   * @param event The event, shared by all receivers; never copied.
   * @param except A member to skip (e.g. the one who just joined).
   */
  broadcast(event: ChatEvent, except?: Member): void {
    for (const member of this.#members) {
      if (member !== except) member.deliver(event);
    }
  }
}
