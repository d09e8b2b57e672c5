/**
 * Server frames of protocol version 2 as the chat events the client shows:
 * {@linkcode eventOf} covers what version 1 has, this adds the room frame's
 * counts and topic, `part`, `presence`, `topic`, `read`, the data answers
 * to `/who`, `/rooms`, `/help`, `conversations`, `history` pages and
 * `ready`.
 *
 * @module
 */
import type { ChatEvent, Role } from "../chat/message.ts";
import { eventOf, type ServerFrame } from "../wire/protocol.ts";

/**
 * The chat event a server frame carries, for a client of version 2.
 *
 * @param frame A parsed server frame.
 * @returns The event, or undefined for frames that are not chat events.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventOfV2 } from "./v2_events.ts";
 *
 * assert.deepEqual(eventOfV2({ type: "read", room: "dev", last_read: 7 }), {
 *   kind: "read",
 *   room: "dev",
 *   lastRead: 7,
 * });
 * ```
 */
export function eventOfV2(frame: ServerFrame): ChatEvent | undefined {
  switch (frame.type) {
    case "room": {
      const base = eventOf(frame);
      if (base === undefined || base.kind !== "room") return base;
      return {
        ...base,
        ...(frame.topic === undefined ? {} : { topic: frame.topic }),
        ...(frame.truncated === undefined ? {} : { truncated: frame.truncated }),
        ...(frame.last_read === undefined ? {} : { lastRead: frame.last_read }),
        ...(frame.unread === undefined ? {} : { unread: frame.unread }),
        ...(frame.unread_capped === undefined ? {} : { unreadCapped: frame.unread_capped }),
        ...(frame.mentioned === undefined ? {} : { mentioned: frame.mentioned }),
      };
    }
    case "part":
    case "topic": {
      const { type, ...rest } = frame;
      return { kind: type, ...rest } as ChatEvent;
    }
    case "presence": {
      const { type: _, ...rest } = frame;
      return { kind: "presence", ...rest };
    }
    case "read":
      return frame.room !== undefined
        ? { kind: "read", room: frame.room, lastRead: frame.last_read }
        : { kind: "read", with: frame.with ?? "", lastRead: frame.last_read };
    case "who":
      return {
        kind: "who",
        room: frame.room,
        users: frame.users.map((u) => ({
          name: u.name,
          role: u.role as Role,
          ...(u.away === undefined ? {} : { away: u.away }),
        })),
      };
    case "rooms":
      return { kind: "rooms", rooms: frame.rooms };
    case "help":
      return { kind: "help", commands: frame.commands };
    case "ready":
      return { kind: "ready" };
    case "conversations":
      return {
        kind: "conversations",
        conversations: frame.conversations.map((c) => ({
          with: c.with,
          lastId: c.last_id,
          lastRead: c.last_read,
          unread: c.unread,
          unreadCapped: c.unread_capped,
        })),
      };
    case "history": {
      const messages = frame.messages.map((m) => {
        const { type, ...rest } = m;
        return { kind: type, ...rest } as Extract<ChatEvent, { kind: "message" | "dm" }>;
      });
      return frame.room !== undefined
        ? { kind: "history", room: frame.room, messages, truncated: frame.truncated }
        : { kind: "history", with: frame.with ?? "", messages, truncated: frame.truncated };
    }
    default:
      return eventOf(frame);
  }
}
