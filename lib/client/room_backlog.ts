/**
 * What arrived in rooms not shown: kept per room, bounded, and shown when
 * the user switches to the room.
 *
 * @module
 */
import type { ChatEvent } from "../chat/message.ts";

/** Most events kept per room not shown; older ones are dropped (and counted). */
export const MAX_BACKLOG_EVENTS = 500;

/** One room's kept events and how many were dropped to stay in bound. */
export interface Backlog {
  readonly events: readonly ChatEvent[];
  /** Events dropped, oldest first, past {@linkcode MAX_BACKLOG_EVENTS}. */
  readonly dropped: number;
}

/**
 * Events of rooms not shown, per room, each room at most `max`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoomBacklog } from "./room_backlog.ts";
 *
 * const backlog = new RoomBacklog(2);
 * for (const id of [1, 2, 3]) {
 *   backlog.push("dev", { kind: "message", id, room: "dev", from: "bob", text: "hi", ts: 0 });
 * }
 * const kept = backlog.take("dev");
 * assert.equal(kept.events.length, 2);
 * assert.equal(kept.dropped, 1);
 * assert.equal(backlog.take("dev").events.length, 0);
 * ```
 */
export class RoomBacklog {
  readonly #max: number;
  readonly #rooms = new Map<string, { events: ChatEvent[]; dropped: number }>();

  /** @param max Most events kept per room. @default MAX_BACKLOG_EVENTS */
  constructor(max = MAX_BACKLOG_EVENTS) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot keep a backlog: max must be a positive integer, got ${max}`);
    }
    this.#max = max;
  }

  /**
   * Keep `event` for `room`, dropping the oldest past the bound.
   *
   * @param room Room name.
   * @param event What arrived.
   */
  push(room: string, event: ChatEvent): void {
    let kept = this.#rooms.get(room);
    if (kept === undefined) {
      kept = { events: [], dropped: 0 };
      this.#rooms.set(room, kept);
    }
    kept.events.push(event);
    if (kept.events.length > this.#max) {
      kept.events.shift();
      kept.dropped++;
    }
  }

  /**
   * Take what is kept for `room`, leaving nothing.
   *
   * @param room Room name.
   * @returns Its events, oldest first, and how many were dropped.
   */
  take(room: string): Backlog {
    const kept = this.#rooms.get(room);
    this.#rooms.delete(room);
    return kept ?? { events: [], dropped: 0 };
  }

  /**
   * Forget `room` (left).
   *
   * @param room Room name.
   */
  forget(room: string): void {
    this.#rooms.delete(room);
  }
}
