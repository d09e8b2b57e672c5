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
 * Who receives one room's events: members that see every room they belong
 * to ("wide") and members that see this one room now ("narrow"). A name is
 * present while any of its receivers is here. {@linkcode broadcast} hands
 * the same event object to every receiver (the session layer encodes it
 * once) in one plain loop.
 */
export class Room {
  /** The room's name, already validated. */
  readonly name: string;
  #wide = new Set<Member>();
  #narrow = new Set<Member>();
  /** The name each receiver is present under (its account's). */
  #nameOf = new Map<Member, string>();
  /** Receivers per present name. */
  #count = new Map<string, number>();
  /** Present names in sort order, kept up to date (never re-sorted). */
  #names: string[] = [];

  /** @param name A name from {@linkcode parseRoomName} or {@linkcode LOBBY}. */
  constructor(name: string) {
    this.name = name;
  }

  /** How many receivers are here. */
  get size(): number {
    return this.#wide.size + this.#narrow.size;
  }

  /** Whether `name` is present. */
  has(name: string): boolean {
    return this.#count.has(name);
  }

  /**
   * Add a receiver.
   *
   * @param member The receiver.
   * @param wide Whether it sees all its rooms.
   * @param name The name it is present under. @default member.name
   * @returns `true` when that name was not present before.
   */
  add(member: Member, wide: boolean, name = member.name): boolean {
    const set = wide ? this.#wide : this.#narrow;
    if (set.has(member)) return false;
    set.add(member);
    this.#nameOf.set(member, name);
    const n = this.#count.get(name) ?? 0;
    this.#count.set(name, n + 1);
    if (n > 0) return false;
    this.#names.splice(this.#position(name), 0, name);
    return true;
  }

  /**
   * Take a receiver out.
   *
   * @returns `true` when its name is no longer present.
   */
  delete(member: Member): boolean {
    if (!this.#wide.delete(member) && !this.#narrow.delete(member)) return false;
    const name = this.#nameOf.get(member) ?? member.name;
    this.#nameOf.delete(member);
    const n = (this.#count.get(name) ?? 1) - 1;
    if (n > 0) {
      this.#count.set(name, n);
      return false;
    }
    this.#count.delete(name);
    const at = this.#position(name);
    if (this.#names[at] === name) this.#names.splice(at, 1);
    return true;
  }

  /** Present names, sorted (a copy). */
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
   * Deliver events to the receivers here.
   *
   * @param wide The event for wide receivers; `undefined` sends them none.
   * @param narrow The event for narrow receivers; `undefined` sends them none.
   * @param except A receiver to skip (e.g. the one who just joined).
   */
  broadcast(
    wide: ChatEvent | undefined,
    narrow: ChatEvent | undefined,
    except?: Member,
  ): void {
    if (wide !== undefined) {
      for (const member of this.#wide) if (member !== except) member.deliver(wide);
    }
    if (narrow !== undefined) {
      for (const member of this.#narrow) if (member !== except) member.deliver(narrow);
    }
  }

  /** Every wide receiver (a copy). */
  wideReceivers(): Member[] {
    return [...this.#wide];
  }
}
