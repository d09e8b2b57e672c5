/**
 * What a session is told of a room or of its DM conversations when it
 * enters: the `room` event (members, history, topic, read marker, unread
 * count) and the `conversations` list with unread counts.
 *
 * @module
 */
import type { HistoryStore, UnreadQuery } from "./history.ts";
import { MAX_CONVERSATIONS, UNREAD_CAP } from "./hub_options.ts";
import type { ConversationEntry, RequestRef, RoomEntered } from "./message.ts";
import { oneLine } from "./_one_line.ts";

/** Whose view a replay is built for. */
export interface Reader {
  /** The account's key. */
  readonly account: string;
  /** The account's name; its own messages are never unread. */
  readonly name: string;
  /** Whether a text mentions the account. */
  readonly mentions: (text: string) => boolean;
}

/** How the `room` event of {@linkcode roomEntered} is built. */
export interface RoomReplayOptions {
  /** Names present in the room, sorted. */
  readonly members: readonly string[];
  /** Messages of history sent at most. */
  readonly historyLimit: number;
  /** Days history is kept, told to the member. */
  readonly retentionDays: number;
  /** The session sees every room of its account (topic, read marker, unread). */
  readonly wide: boolean;
  /** Only history above this id (a resuming session's last seen). */
  readonly after: number | undefined;
  /** The request this answers, if any (wide sessions only). */
  readonly ref: RequestRef | undefined;
}

/**
 * The `room` event of `room` for one session: a one-room session gets the
 * recent history on one line each; a wide one a page newer than `after`,
 * the topic, its read marker and unread count.
 *
 * @param history Where the room's messages and markers are.
 * @param room The room's name.
 * @param reader The session's account.
 * @param options The room's members, the limits and the session's view.
 * @returns The event to deliver.
 */
export function roomEntered(
  history: HistoryStore,
  room: string,
  reader: Reader,
  options: RoomReplayOptions,
): RoomEntered {
  const base = {
    kind: "room",
    room,
    members: options.members,
    retentionDays: options.retentionDays,
  } as const;
  if (!options.wide) {
    return { ...base, history: history.recent(room, options.historyLimit).map(oneLine) };
  }
  const after = options.after;
  const page = history.roomPage(room, {
    limit: options.historyLimit,
    ...(after === undefined ? {} : { after }),
  });
  const lastRead = history.lastRead(reader.account, `#${room}`);
  const unread = history.roomUnread(room, unreadQuery(reader, lastRead));
  return {
    ...base,
    history: page.messages,
    truncated: page.truncated,
    topic: history.room(room)?.topic ?? "",
    lastRead,
    unread: unread.count,
    unreadCapped: unread.capped,
    mentioned: unread.mentioned,
    ...(options.ref === undefined ? {} : { ref: options.ref }),
  };
}

/**
 * The DM conversations of an account, newest first (at most
 * `MAX_CONVERSATIONS`), each with its read marker and unread count.
 *
 * @param history Where the DMs and markers are.
 * @param reader The account.
 * @returns The `conversations` entries.
 */
export function conversationEntries(history: HistoryStore, reader: Reader): ConversationEntry[] {
  return history.conversations(reader.account, MAX_CONVERSATIONS).map((c) => {
    const lastRead = history.lastRead(reader.account, `@${c.account}`);
    const unread = history.directUnread(reader.account, c.account, unreadQuery(reader, lastRead));
    return {
      with: c.name,
      lastId: c.lastId,
      lastRead,
      unread: unread.count,
      unreadCapped: unread.capped,
    };
  });
}

/** What is unread for `reader` past `after`, counted up to `UNREAD_CAP`. */
function unreadQuery(reader: Reader, after: number): UnreadQuery {
  return { after, self: reader.name, cap: UNREAD_CAP, mentions: reader.mentions };
}
