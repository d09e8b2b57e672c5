/**
 * The page's chat state, apart from the DOM: rooms (and DMs) keyed by name,
 * each with its messages by id, the last id seen, members, unread count and
 * mention mark. Events from the server are applied here; a message seen
 * before (same id, e.g. a history replayed after a reconnect) is dropped, so
 * the view shows only what is new. Protocol v2's per-room frames plug into
 * {@linkcode ChatState.enterRoom}.
 *
 * @module
 */
import type { EventFrame } from "../lib/wire/protocol.ts";

/** One line of the message list. */
export type Line =
  | {
    kind: "message";
    id: number;
    room: string;
    from: string;
    text: string;
    ts: number;
    action: boolean;
    bot: boolean;
    dm: boolean;
  }
  | { kind: "system"; room: string; text: string; ts: number; level: "info" | "warn" | "error" };

/** A room or a DM conversation. */
export interface RoomState {
  readonly name: string;
  topic: string;
  readonly members: Set<string>;
  /** Message ids shown, so a replayed history adds nothing twice. */
  readonly seen: Set<number>;
  lastId: number;
  unread: number;
  mentioned: boolean;
  /** Whether older history may exist (v2 `truncated`). */
  truncated: boolean;
}

/** The key of the DM conversation with `peer`. */
export function dmKey(peer: string): string {
  return `@${peer}`;
}

/** What applying an event did, for the view. */
export interface Applied {
  /** New lines, in order (nothing for a duplicate). */
  lines: Line[];
  /** The members of this room changed. */
  membersChanged: boolean;
}

/** Whether `text` mentions `user` (the name as a word, `@` optional, any case). */
export function mentions(text: string, user: string): boolean {
  if (user === "") return false;
  const escaped = user.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w])@?${escaped}($|[^\\w])`, "i").test(text);
}

/** Every room and DM the page knows. */
export class ChatState {
  readonly rooms: Map<string, RoomState> = new Map();
  /** The room shown. */
  current = "";
  /** Who is logged in. */
  user = "";
  #visible = true;

  /** The room called `name`, made when new. */
  room(name: string): RoomState {
    let room = this.rooms.get(name);
    if (room === undefined) {
      room = {
        name,
        topic: "",
        members: new Set(),
        seen: new Set(),
        lastId: 0,
        unread: 0,
        mentioned: false,
        truncated: false,
      };
      this.rooms.set(name, room);
      if (this.current === "") this.current = name;
    }
    return room;
  }

  /** Show `name`: its unread count and mention mark are cleared. */
  select(name: string): void {
    const room = this.room(name);
    this.current = name;
    room.unread = 0;
    room.mentioned = false;
  }

  /**
   * Apply one chat event from the server.
   *
   * @param frame The event.
   * @param visible Whether the page is being looked at (else the current room counts unread too).
   * @returns The lines to add and whether members changed.
   */
  apply(frame: EventFrame, visible = true): Applied {
    this.#visible = visible;
    switch (frame.type) {
      case "room": {
        const room = this.room(frame.room);
        room.members.clear();
        for (const m of frame.members) room.members.add(m);
        const lines = frame.history.flatMap((m) => this.#message(room, m, false, false));
        return { lines, membersChanged: true };
      }
      case "message": {
        const room = this.room(frame.room);
        return { lines: this.#message(room, frame, false, true), membersChanged: false };
      }
      case "dm": {
        const peer = frame.from === this.user ? frame.to : frame.from;
        const room = this.room(dmKey(peer));
        room.members.add(peer);
        return {
          lines: this.#message(room, frame, true, true),
          membersChanged: false,
        };
      }
      case "join":
      case "leave": {
        const room = this.room(frame.room);
        if (frame.type === "join") room.members.add(frame.user);
        else room.members.delete(frame.user);
        const text = frame.type === "join"
          ? `${frame.user} joined`
          : `${frame.user} left${frame.reason ? ` (${frame.reason})` : ""}`;
        return {
          lines: [{ kind: "system", room: room.name, text, ts: frame.ts, level: "info" }],
          membersChanged: true,
        };
      }
      case "notice":
        return {
          lines: [{
            kind: "system",
            room: this.current,
            text: frame.text,
            ts: frame.ts,
            level: frame.level,
          }],
          membersChanged: false,
        };
      default: // version 2 events: this page speaks version 1 for now
        return { lines: [], membersChanged: false };
    }
  }

  #message(
    room: RoomState,
    m: {
      id: number;
      from: string;
      text: string;
      ts: number;
      action?: boolean | undefined;
      bot?: boolean | undefined;
    },
    dm: boolean,
    live: boolean,
  ): Line[] {
    if (room.seen.has(m.id)) return [];
    room.seen.add(m.id);
    room.lastId = Math.max(room.lastId, m.id);
    if (live && m.from !== this.user && (room.name !== this.current || !this.#visible)) {
      room.unread++;
      if (dm || mentions(m.text, this.user)) room.mentioned = true;
    }
    return [{
      kind: "message",
      id: m.id,
      room: room.name,
      from: m.from,
      text: m.text,
      ts: m.ts,
      action: m.action === true,
      bot: m.bot === true,
      dm,
    }];
  }
}
