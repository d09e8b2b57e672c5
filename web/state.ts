/**
 * The page's chat state, apart from the DOM, for protocol version 2: the
 * rooms the account is a member of and its DM conversations (keyed `@peer`),
 * each with its lines by id, the newest and oldest ids held, the read
 * marker, unread count and mention mark, and the members online. Events from
 * the server are applied here; a message seen before (same id, e.g. a replay
 * after a reconnect or a history page that overlaps) is dropped, so the view
 * shows each message once, in id order.
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
  /** The room's name, or `@peer` for a DM conversation. */
  readonly name: string;
  /** Whether this is a DM conversation. */
  readonly dm: boolean;
  topic: string;
  /** Names online in the room (a DM: the peer, when seen). */
  readonly members: Set<string>;
  /** Names known to be members, online or not (to place `presence`). */
  readonly known: Set<string>;
  /** The lines held, messages in id order with system lines where they came. */
  lines: Line[];
  /** Message ids held, so a replay or an overlapping page adds nothing twice. */
  readonly seen: Set<number>;
  /** Newest message id held (what `resume` names); 0 when none. */
  lastId: number;
  /** Newest message id there is, as far as the page knows (DMs: `last_id`). */
  newestId: number;
  /** Oldest message id held; 0 when none. */
  firstId: number;
  /** The account's read marker here. */
  lastRead: number;
  unread: number;
  /** More unread than counted (show "1000+"). */
  unreadCapped: boolean;
  mentioned: boolean;
  /** Older history may exist on the server (page back with `history`). */
  hasOlder: boolean;
  /** The members list may be out of date (someone came online whose rooms are unknown). */
  staleMembers: boolean;
}

/** The key of the DM conversation with `peer`. */
export function dmKey(peer: string): string {
  return `@${peer}`;
}

/** What applying an event did, for the view. */
export interface Applied {
  /** The room whose lines changed, when one did. */
  room?: string;
  /** Lines were added before the ones held (a history page). */
  prepended: boolean;
  /** Live lines added at the end, in order (for notifications and scrolling). */
  added: Line[];
  /** The members or away marks changed. */
  membersChanged: boolean;
  /** The sidebar (rooms, counts, marks) changed. */
  roomsChanged: boolean;
}

/** Whether `text` mentions `user`: the name not next to a letter, digit or `_` (any case). */
export function mentions(text: string, user: string): boolean {
  if (user === "") return false;
  const escaped = user.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, "i").test(text);
}

type WireMessage = {
  id: number;
  from: string;
  text: string;
  ts: number;
  action?: boolean | undefined;
  bot?: boolean | undefined;
  to?: string | undefined;
};

/** Lines kept per room: live lines past this drop the oldest (which can be paged back). */
export const MAX_LINES = 2000;

/** Every room and DM the page knows. */
export class ChatState {
  readonly rooms: Map<string, RoomState> = new Map();
  /** Away text by user name (absent: not away). */
  readonly away: Map<string, string> = new Map();
  /** The room shown. */
  current = "";
  /** Who is logged in. */
  user = "";
  /** Whether the login replay is over (`ready`). */
  ready = false;
  /** Messages per replay or page (`welcome.limits.history_limit`). */
  historyLimit = 50;

  /** The room called `name`, made when new. */
  room(name: string): RoomState {
    let room = this.rooms.get(name);
    if (room === undefined) {
      room = {
        name,
        dm: name.startsWith("@"),
        topic: "",
        members: new Set(),
        known: new Set(),
        lines: [],
        seen: new Set(),
        lastId: 0,
        newestId: 0,
        firstId: 0,
        lastRead: 0,
        unread: 0,
        unreadCapped: false,
        mentioned: false,
        hasOlder: false,
        staleMembers: false,
      };
      this.rooms.set(name, room);
      if (this.current === "") this.current = name;
    }
    return room;
  }

  /** Rooms first (by name), then DM conversations (by name). */
  sidebar(): RoomState[] {
    return [...this.rooms.values()].sort((a, b) =>
      a.dm === b.dm ? a.name.localeCompare(b.name) : a.dm ? 1 : -1
    );
  }

  /**
   * Show `name`: its unread count and mention mark are cleared.
   *
   * @returns The read marker to send (the newest id) when it moved, else undefined.
   */
  select(name: string): number | undefined {
    this.current = name;
    return this.markRead(name);
  }

  /**
   * Everything in `name` is read: clear its count and mark.
   *
   * @returns The new read marker when it moved forward, else undefined.
   */
  markRead(name: string): number | undefined {
    const room = this.room(name);
    room.unread = 0;
    room.unreadCapped = false;
    room.mentioned = false;
    const newest = Math.max(room.newestId, room.lastId);
    if (newest <= room.lastRead) return undefined;
    room.lastRead = newest;
    return newest;
  }

  /** The `resume` map of `hello`: per room, the newest message id held. */
  resume(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const room of this.rooms.values()) {
      if (!room.dm && room.lastId > 0) out[room.name] = room.lastId;
    }
    return out;
  }

  /** Forget a room (after `part`); the current room moves to the first left. */
  drop(name: string): void {
    this.rooms.delete(name);
    if (this.current === name) this.current = this.sidebar()[0]?.name ?? "";
  }

  /**
   * Apply one chat event from the server.
   *
   * @param frame The event.
   * @param visible Whether the page is being looked at (else the current room counts unread too).
   * @returns What changed.
   */
  apply(frame: EventFrame, visible = true): Applied {
    const none: Applied = {
      prepended: false,
      added: [],
      membersChanged: false,
      roomsChanged: false,
    };
    switch (frame.type) {
      case "room":
        return this.#roomFrame(frame);
      case "conversations":
        for (const c of frame.conversations) {
          const room = this.room(dmKey(c.with));
          room.known.add(c.with);
          room.newestId = Math.max(room.newestId, c.last_id);
          room.lastRead = c.last_read;
          room.unread = c.unread;
          room.unreadCapped = c.unread_capped;
          room.mentioned = c.unread > 0;
          room.hasOlder = room.lines.length === 0 ? c.last_id > 0 : room.hasOlder;
        }
        return { ...none, roomsChanged: true };
      case "ready":
        this.ready = true;
        return none;
      case "message": {
        const room = this.room(frame.room);
        room.known.add(frame.from);
        const added = this.#live(room, frame, false, visible);
        return { ...none, room: room.name, added, roomsChanged: true };
      }
      case "dm": {
        const peer = frame.from === this.user ? frame.to : frame.from;
        const room = this.room(dmKey(peer));
        room.known.add(peer);
        const added = this.#live(room, frame, true, visible);
        return { ...none, room: room.name, added, roomsChanged: true };
      }
      case "join":
      case "leave":
      case "part": {
        const room = this.rooms.get(frame.room);
        if (room === undefined) return none;
        if (frame.type === "join") {
          room.members.add(frame.user);
          room.known.add(frame.user);
        } else {
          room.members.delete(frame.user);
          if (frame.type === "part") room.known.delete(frame.user);
        }
        const text = frame.type === "join"
          ? `${frame.user} joined #${room.name}`
          : frame.type === "part"
          ? `${frame.user} left #${room.name}`
          : `${frame.user} left${frame.reason ? ` (${frame.reason})` : ""}`;
        const line: Line = { kind: "system", room: room.name, text, ts: frame.ts, level: "info" };
        room.lines.push(line);
        return { ...none, room: room.name, added: [line], membersChanged: true };
      }
      case "presence":
        return this.#presence(frame);
      case "topic": {
        const room = this.rooms.get(frame.room);
        if (room === undefined) return none;
        room.topic = frame.text;
        const text = frame.text === ""
          ? `${frame.by} cleared the topic`
          : `${frame.by} set the topic: ${frame.text}`;
        const line: Line = { kind: "system", room: room.name, text, ts: frame.ts, level: "info" };
        room.lines.push(line);
        return { ...none, room: room.name, added: [line], roomsChanged: true };
      }
      case "read": {
        const name = frame.room ?? dmKey(frame.with ?? "");
        const room = this.rooms.get(name);
        if (room === undefined || frame.last_read <= room.lastRead) return none;
        room.lastRead = frame.last_read;
        this.#recount(room);
        return { ...none, roomsChanged: true };
      }
      case "who": {
        const room = this.rooms.get(frame.room);
        if (room === undefined) return none;
        room.members.clear();
        for (const u of frame.users) {
          room.members.add(u.name);
          room.known.add(u.name);
          if (u.away === undefined) this.away.delete(u.name);
          else this.away.set(u.name, u.away);
        }
        room.staleMembers = false;
        return { ...none, membersChanged: true };
      }
      case "history":
        return this.#page(frame);
      case "notice":
        return this.system(this.current, frame.text, frame.ts, frame.level);
      default: // rooms, help: answers shown as notices when typed
        return none;
    }
  }

  /**
   * Add a system line to `name` (or the current room).
   *
   * @returns What changed.
   */
  system(name: string, text: string, ts: number, level: "info" | "warn" | "error"): Applied {
    const room = this.room(name === "" ? this.current || "lobby" : name);
    const line: Line = { kind: "system", room: room.name, text, ts, level };
    room.lines.push(line);
    return {
      room: room.name,
      prepended: false,
      added: [line],
      membersChanged: false,
      roomsChanged: false,
    };
  }

  #roomFrame(frame: Extract<EventFrame, { type: "room" }>): Applied {
    const room = this.room(frame.room);
    room.members.clear();
    for (const m of frame.members) {
      room.members.add(m);
      room.known.add(m);
    }
    room.staleMembers = false;
    room.topic = frame.topic ?? "";
    const history = frame.history;
    const first = history[0];
    if (frame.truncated === true && first !== undefined && first.id > room.lastId + 1) {
      // More was missed than the replay holds: start again from it rather than show a gap.
      room.lines = [];
      room.seen.clear();
      room.firstId = 0;
    }
    for (const m of history) room.known.add(m.from);
    const fresh = history.filter((m) => !room.seen.has(m.id)).map((m) =>
      this.#line(room, m, false)
    );
    room.lines.push(...fresh);
    if (room.firstId === 0 || (first !== undefined && first.id < room.firstId)) {
      room.firstId = first?.id ?? 0;
    }
    if (room.lines.length === fresh.length) {
      // What the replay holds is all the page has: older ones exist when it was cut or full.
      room.hasOlder = frame.truncated === true || history.length >= this.historyLimit;
    }
    room.lastRead = frame.last_read ?? room.lastRead;
    room.unread = frame.unread ?? 0;
    room.unreadCapped = frame.unread_capped === true;
    room.mentioned = frame.mentioned === true;
    return {
      room: room.name,
      prepended: false,
      added: fresh,
      membersChanged: true,
      roomsChanged: true,
    };
  }

  #presence(frame: Extract<EventFrame, { type: "presence" }>): Applied {
    const applied: Applied = {
      prepended: false,
      added: [],
      membersChanged: true,
      roomsChanged: false,
    };
    if (frame.online && frame.away !== undefined) this.away.set(frame.user, frame.away);
    else this.away.delete(frame.user);
    const text = !frame.online
      ? `${frame.user} went offline`
      : frame.away !== undefined
      ? `${frame.user} is away: ${frame.away}`
      : `${frame.user} is here`;
    let placed = false;
    for (const room of this.rooms.values()) {
      if (room.dm || !room.known.has(frame.user)) continue;
      placed = true;
      if (frame.online) room.members.add(frame.user);
      else room.members.delete(frame.user);
      if (room.name === this.current) {
        const line: Line = { kind: "system", room: room.name, text, ts: frame.ts, level: "info" };
        room.lines.push(line);
        applied.added.push(line);
        applied.room = room.name;
      }
    }
    if (!placed && frame.online) {
      // Someone sharing a room with us, but which rooms is not known: ask (`who`).
      for (const room of this.rooms.values()) if (!room.dm) room.staleMembers = true;
      const current = this.rooms.get(this.current);
      if (current !== undefined && !current.dm) {
        const line: Line = {
          kind: "system",
          room: current.name,
          text,
          ts: frame.ts,
          level: "info",
        };
        current.lines.push(line);
        applied.added.push(line);
        applied.room = current.name;
      }
    }
    return applied;
  }

  #page(frame: Extract<EventFrame, { type: "history" }>): Applied {
    const name = frame.room ?? dmKey(frame.with ?? "");
    const room = this.rooms.get(name);
    const none: Applied = {
      prepended: false,
      added: [],
      membersChanged: false,
      roomsChanged: false,
    };
    if (room === undefined) return none;
    const older = frame.messages
      .filter((m) => !room.seen.has(m.id))
      .map((m) => this.#line(room, m, m.type === "dm"));
    const oldest = frame.messages[0]?.id;
    if (oldest !== undefined && (room.firstId === 0 || oldest < room.firstId)) {
      room.firstId = oldest;
    }
    room.hasOlder = frame.truncated && frame.messages.length > 0;
    if (older.length === 0) return { ...none, room: room.name };
    // Each goes where its id belongs: a page is older than what is held, but a
    // first page of a DM may overlap live lines that arrived meanwhile.
    for (const line of older) insertById(room.lines, line);
    return { ...none, room: room.name, prepended: true };
  }

  #live(room: RoomState, m: WireMessage, dm: boolean, visible: boolean): Line[] {
    if (room.seen.has(m.id)) return [];
    const line = this.#line(room, m, dm);
    room.newestId = Math.max(room.newestId, m.id);
    if (room.firstId === 0) room.firstId = m.id;
    room.lines.push(line);
    if (room.lines.length > MAX_LINES) {
      room.lines.splice(0, room.lines.length - MAX_LINES);
      const first = room.lines.find((l) => l.kind === "message");
      if (first?.kind === "message") room.firstId = first.id;
      room.hasOlder = true;
    }
    if (m.from !== this.user && (room.name !== this.current || !visible)) {
      room.unread++;
      if (dm || mentions(m.text, this.user)) room.mentioned = true;
    }
    return [line];
  }

  #line(room: RoomState, m: WireMessage, dm: boolean): Line & { kind: "message" } {
    room.seen.add(m.id);
    room.lastId = Math.max(room.lastId, m.id);
    room.newestId = Math.max(room.newestId, m.id);
    return {
      kind: "message",
      id: m.id,
      room: room.name,
      from: m.from,
      text: m.text,
      ts: m.ts,
      action: m.action === true,
      bot: m.bot === true,
      dm,
    };
  }

  /** Unread and mention from the lines held after the read marker (after a `read` event). */
  #recount(room: RoomState): void {
    let unread = 0;
    let mentioned = false;
    for (const line of room.lines) {
      if (line.kind !== "message" || line.id <= room.lastRead || line.from === this.user) continue;
      unread++;
      if (line.dm || mentions(line.text, this.user)) mentioned = true;
    }
    room.unread = unread;
    room.unreadCapped = false;
    room.mentioned = mentioned;
  }
}

/** Put a message line before the first message with a higher id (system lines stay put). */
function insertById(lines: Line[], line: Line & { kind: "message" }): void {
  const at = lines.findIndex((l) => l.kind === "message" && l.id > line.id);
  if (at === -1) lines.push(line);
  else lines.splice(at, 0, line);
}
