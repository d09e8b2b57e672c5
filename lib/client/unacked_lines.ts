/**
 * Chat lines the server has not confirmed yet, so that a connection lost
 * between sending a line and its `ack` neither loses nor doubles it.
 *
 * In protocol version 2 each chat line goes out with an `id`, and the server
 * answers `ack` once it has stored the line (in cluster mode, once the stream
 * has) or `error` when it refused it. A line with neither when the connection
 * drops is in doubt: the server may have stored it, or never read it (an
 * instance killed with -9). The next session's login replay settles it: an
 * own line with the same text in the replay of its room, after the resume
 * point, was stored; a complete replay without it means it was not, and it is
 * sent again. When the replay is incomplete the line is named to the user
 * instead of guessed at. Commands (`/...`) are never sent again.
 *
 * @module
 */
import type { RequestRef, RoomEntered, RoomMessage } from "../chat/message.ts";

/** A line in doubt or to send again. */
export interface UnackedLine {
  readonly text: string;
  /** The room it was typed in, when the client named one. */
  readonly room?: string;
}

/** How the lines in doubt were settled by a login replay. */
export interface Settled {
  /** Not stored: to send again, oldest first. */
  readonly resend: readonly UnackedLine[];
  /** Not known (the replay of the room was incomplete, or the room is gone). */
  readonly unknown: readonly UnackedLine[];
}

/** The `id` prefix of tracked lines. */
const REF_PREFIX = "line:";

/**
 * Whether `text` is a chat line this tracks: not a command, not `end`.
 *
 * @param text What the user typed.
 * @returns True for plain chat text.
 */
export function isChatLine(text: string): boolean {
  const trimmed = text.trim();
  return trimmed !== "" && !trimmed.startsWith("/") && trimmed !== "end" &&
    trimmed !== "get_joke";
}

/**
 * Lines sent and not answered, and lines in doubt after a drop.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnackedLines } from "./unacked_lines.ts";
 *
 * const lines = new UnackedLines();
 * const stored = lines.sent("hi", "lobby");
 * lines.sent("lost", "lobby");
 * lines.answered(stored);
 * lines.dropped();
 * lines.replayed({ kind: "room", room: "lobby", members: [], retentionDays: 1, history: [] }, "ann");
 * assert.deepEqual(lines.settle(), { resend: [{ text: "lost", room: "lobby" }], unknown: [] });
 * ```
 */
export class UnackedLines {
  #next = 1;
  /** Sent on this session, not answered; by id. */
  readonly #open = new Map<string, UnackedLine>();
  /** From a session that ended, waiting for the next replay. */
  #doubt: { line: UnackedLine; verdict?: "stored" | "lost" | "unknown" }[] = [];

  /** Lines sent and not answered yet, and lines in doubt. */
  get size(): number {
    return this.#open.size + this.#doubt.length;
  }

  /**
   * A chat line goes out now.
   *
   * @param text What is sent.
   * @param room The room named with it.
   * @returns The `id` to send it with.
   */
  sent(text: string, room: string | undefined): string {
    const id = `${REF_PREFIX}${this.#next++}`;
    this.#open.set(id, room === undefined ? { text } : { text, room });
    return id;
  }

  /**
   * An `ack` or `error` with `id` came: the line is settled.
   *
   * @param id The answer's id.
   * @returns True when it was a tracked line's.
   */
  answered(id: RequestRef | undefined): boolean {
    return typeof id === "string" && this.#open.delete(id);
  }

  /**
   * A message came: the user's own line echoed is stored, even when its
   * `ack` is yet to come (or never comes: the connection drops between).
   *
   * @param message A room message.
   * @param self The user's name.
   */
  echoed(message: RoomMessage, self: string): void {
    if (message.from.toLowerCase() !== self.toLowerCase()) return;
    for (const [id, line] of this.#open) {
      if (line.room !== undefined && line.room !== message.room) continue;
      if (line.text.trim() !== message.text.trim()) continue;
      this.#open.delete(id);
      return;
    }
  }

  /** The session ended: its unanswered lines are in doubt until the next replay. */
  dropped(): void {
    for (const line of this.#open.values()) this.#doubt.push({ line });
    this.#open.clear();
  }

  /**
   * A room frame of the next login replay: own lines in its history were
   * stored; lines of a room whose replay is complete and lacks them were not.
   *
   * @param event The room frame (its history after the resume point).
   * @param self The user's name.
   */
  replayed(event: RoomEntered, self: string): void {
    const own = event.history.filter((m) => m.from.toLowerCase() === self.toLowerCase())
      .map((m) => m.text.trim());
    for (const entry of this.#doubt) {
      if (entry.verdict !== undefined) continue;
      if (entry.line.room !== undefined && entry.line.room !== event.room) continue;
      const at = own.indexOf(entry.line.text.trim());
      if (at >= 0) {
        own.splice(at, 1); // one stored line answers one line in doubt
        entry.verdict = "stored";
      } else if (entry.line.room !== undefined) {
        entry.verdict = event.truncated === true ? "unknown" : "lost";
      }
    }
  }

  /**
   * The replay is over (`ready`): what to send again and what is unknown.
   *
   * @returns The lines in doubt, settled; none are kept after.
   */
  settle(): Settled {
    const resend: UnackedLine[] = [];
    const unknown: UnackedLine[] = [];
    for (const { line, verdict } of this.#doubt) {
      if (verdict === "lost") resend.push(line);
      else if (verdict !== "stored") unknown.push(line);
    }
    this.#doubt = [];
    return { resend, unknown };
  }
}
