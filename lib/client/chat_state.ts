/**
 * What the terminal client knows of the chat beside the lines it shows:
 * the rooms it is in with their unread and mention counts, the current room,
 * away state, the connection state and lines typed while not connected.
 * Pure: fed events and user actions, read by the prompt and status line.
 *
 * Today's server (protocol v1) puts a member in one room at a time, so
 * entering a room leaves the others ({@linkcode ChatStateOptions.multiRoom}
 * false). Protocol v2 sends one `room` frame per joined room with `unread`
 * and `mentioned`; {@linkcode ChatState.joined} takes those as they come.
 *
 * @module
 */

/** Where the connection is. */
export type ConnectionState = "connecting" | "connected" | "disconnected";

/** One room the client is in. */
export interface RoomState {
  readonly name: string;
  /** Messages not seen since it was last the current room. */
  unread: number;
  /** Of those, how many mention the reader or were addressed to them. */
  mentioned: number;
  /** Names known to be in the room, for completion. */
  readonly members: Set<string>;
}

/** A line typed while not connected, waiting to be sent. */
export interface PendingLine {
  readonly text: string;
  /** When it was typed, ms since the epoch. */
  readonly typedAt: number;
}

/** Options for {@linkcode ChatState}. */
export interface ChatStateOptions {
  /**
   * The client may be in several rooms at once (protocol v2). When false,
   * entering a room leaves the one before.
   *
   * @default {false}
   */
  readonly multiRoom?: boolean;
}

/** Most pending lines kept while disconnected. */
export const MAX_PENDING_LINES = 1000;

/**
 * Whether `text` mentions `self`: the name as a whole word, any case,
 * optionally with a leading `@`.
 *
 * @param text Message text.
 * @param self The reader's name.
 * @returns True for a mention.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { mentions } from "./chat_state.ts";
 *
 * assert.equal(mentions("bob: lunch?", "bob"), true);
 * assert.equal(mentions("bobby tables", "bob"), false);
 * ```
 */
export function mentions(text: string, self: string): boolean {
  if (self === "") return false;
  const lower = text.toLowerCase();
  const name = self.toLowerCase();
  for (let at = lower.indexOf(name); at !== -1; at = lower.indexOf(name, at + 1)) {
    const before = lower[at - 1] ?? " ";
    const after = lower[at + name.length] ?? " ";
    if (!/[\p{L}\p{N}_-]/u.test(before) && !/[\p{L}\p{N}_-]/u.test(after)) return true;
  }
  return false;
}

/**
 * The client's view of rooms, away state, connection and pending lines.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChatState } from "./chat_state.ts";
 *
 * const state = new ChatState({ multiRoom: true });
 * state.joined("lobby");
 * state.joined("dev");
 * state.switchTo("lobby");
 * state.message("dev", { mention: true });
 * assert.deepEqual(state.others().map((r) => [r.name, r.unread, r.mentioned]), [["dev", 1, 1]]);
 * ```
 */
export class ChatState {
  /** Several rooms are held at once (protocol v2); set when a session's version is known. */
  multiRoom: boolean;
  readonly #rooms = new Map<string, RoomState>();
  #current: string | undefined;
  /** The reader's name once logged in. */
  self = "";
  /** Whether the reader is marked away. */
  away = false;
  /** Where the connection is. */
  connection: ConnectionState = "connecting";
  readonly #pending: PendingLine[] = [];

  /** @param options Whether several rooms are held at once. */
  constructor(options: ChatStateOptions = {}) {
    this.multiRoom = options.multiRoom ?? false;
  }

  /** The current room, if any. */
  get current(): string | undefined {
    return this.#current;
  }

  /** Every room, in the order joined. */
  rooms(): readonly RoomState[] {
    return [...this.#rooms.values()];
  }

  /** The rooms other than the current one, in the order joined. */
  others(): readonly RoomState[] {
    return this.rooms().filter((r) => r.name !== this.#current);
  }

  /**
   * The client is in `room` (a `room` frame). The first room joined, and
   * with one room at a time every room, becomes the current one.
   *
   * @param room Room name.
   * @param options Members and, from protocol v2, the server's counts.
   */
  joined(
    room: string,
    options: { members?: readonly string[]; unread?: number; mentioned?: number } = {},
  ): void {
    if (!this.multiRoom) {
      for (const name of [...this.#rooms.keys()]) if (name !== room) this.#rooms.delete(name);
    }
    const state = this.#rooms.get(room) ??
      { name: room, unread: 0, mentioned: 0, members: new Set<string>() };
    state.unread = options.unread ?? state.unread;
    state.mentioned = options.mentioned ?? state.mentioned;
    for (const m of options.members ?? []) state.members.add(m);
    this.#rooms.set(room, state);
    if (!this.multiRoom || this.#current === undefined) this.switchTo(room);
  }

  /**
   * The client left `room` (`/part`); the current room moves to the next.
   *
   * @param room Room name.
   */
  left(room: string): void {
    const names = [...this.#rooms.keys()];
    const at = names.indexOf(room);
    if (at === -1) return;
    this.#rooms.delete(room);
    if (this.#current === room) {
      this.#current = names[at + 1] ?? names[at - 1];
      if (this.#current === room) this.#current = undefined;
    }
  }

  /**
   * Someone joined or left a room the client is in.
   *
   * @param room Room name.
   * @param user Who.
   * @param present Joined (true) or left.
   */
  presence(room: string, user: string, present: boolean): void {
    const state = this.#rooms.get(room);
    if (present) state?.members.add(user);
    else state?.members.delete(user);
  }

  /**
   * A message arrived in `room`: counted as unread unless it is the
   * current room.
   *
   * @param room Room name.
   * @param options Whether it mentions the reader; who sent it.
   */
  message(room: string, options: { mention?: boolean; from?: string } = {}): void {
    const state = this.#rooms.get(room);
    if (state === undefined) return;
    if (options.from !== undefined) state.members.add(options.from);
    if (room === this.#current) return;
    state.unread++;
    if (options.mention) state.mentioned++;
  }

  /**
   * Clear `room`'s counts without making it current (read elsewhere).
   *
   * @param room Room name.
   */
  clear(room: string): void {
    const state = this.#rooms.get(room);
    if (state === undefined) return;
    state.unread = 0;
    state.mentioned = 0;
  }

  /**
   * Keep only the rooms named (a login replay listed them; others were left
   * meanwhile).
   *
   * @param rooms The rooms the server listed.
   */
  keepOnly(rooms: ReadonlySet<string>): void {
    for (const name of [...this.#rooms.keys()]) if (!rooms.has(name)) this.left(name);
  }

  /**
   * Make `room` the current room and clear its counts.
   *
   * @param room Room name.
   * @returns False when the client is not in that room.
   */
  switchTo(room: string): boolean {
    const state = this.#rooms.get(room);
    if (state === undefined) return false;
    this.#current = room;
    state.unread = 0;
    state.mentioned = 0;
    return true;
  }

  /**
   * Move to the room `step` places after the current one, wrapping around.
   *
   * @param step +1 for the next room, -1 for the previous.
   * @returns The new current room, if any.
   */
  cycle(step: number): string | undefined {
    const names = [...this.#rooms.keys()];
    if (names.length === 0) return undefined;
    const at = this.#current === undefined ? 0 : names.indexOf(this.#current);
    const next = names[(((at + step) % names.length) + names.length) % names.length];
    if (next !== undefined) this.switchTo(next);
    return this.#current;
  }

  /**
   * Make the Nth room (1-based, in join order) current.
   *
   * @param n Room number, as Alt-N.
   * @returns The room, or undefined when there is no Nth room.
   */
  switchToNumber(n: number): string | undefined {
    const name = [...this.#rooms.keys()][n - 1];
    if (name === undefined) return undefined;
    this.switchTo(name);
    return name;
  }

  /** Names in the current room, for completion. */
  members(): readonly string[] {
    const state = this.#current === undefined ? undefined : this.#rooms.get(this.#current);
    return state === undefined ? [] : [...state.members].sort();
  }

  /**
   * Keep a line typed while not connected.
   *
   * @param text The line.
   * @param typedAt When it was typed.
   * @returns False when {@linkcode MAX_PENDING_LINES} are already waiting.
   */
  addPending(text: string, typedAt: number): boolean {
    if (this.#pending.length >= MAX_PENDING_LINES) return false;
    this.#pending.push({ text, typedAt });
    return true;
  }

  /** The pending lines, oldest first. */
  pending(): readonly PendingLine[] {
    return this.#pending;
  }

  /**
   * Take every pending line, to send each once.
   *
   * @returns The lines, oldest first; none are kept.
   */
  takePending(): PendingLine[] {
    return this.#pending.splice(0);
  }
}
