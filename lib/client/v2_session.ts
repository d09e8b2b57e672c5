/**
 * The terminal client's protocol-version-2 logic, apart from the screen and
 * the keys ({@linkcode ChatUi} in chat_ui.ts): the login replay held until
 * `ready`, the lines of rooms not shown (kept up to
 * {@linkcode MAX_BACKLOG_EVENTS} per room), read markers moved by another
 * session, parting, presence, and the DM catch-up after login (DMs are not
 * replayed in version 2: the unread ones are fetched, shown once and marked
 * read).
 *
 * It draws nothing itself: it asks its {@linkcode V2SessionView} to show,
 * render and print.
 *
 * @module
 */
import type { ChatEvent, RoomEntered } from "../chat/message.ts";
import { sanitise } from "../terminal/sanitise.ts";
import type { ChatState } from "./chat_state.ts";
import { mentions } from "./chat_state.ts";
import { MAX_BACKLOG_EVENTS, RoomBacklog } from "./room_backlog.ts";

/** Most unread DMs of one conversation fetched at login (the server's history limit). */
export const MAX_DMS_FETCHED = 50;

/** What a version 2 session asks of the chat client behind it. */
export interface V2Client {
  /** Mark `room` read up to the newest message seen (version 2). */
  read?(room: string): void;
  /** The newest message id seen in `room`. */
  lastId?(room: string): number | undefined;
  /** Fetch the newest `limit` DMs with `user` (version 2). */
  fetchDms?(user: string, limit: number): void;
  /** Mark the DMs with `user` read up to `lastRead` (version 2). */
  readDms?(user: string, lastRead: number): void;
}

/** What a {@linkcode V2Session} asks of the screen side. */
export interface V2SessionView {
  /** The rooms, counts and current room shown. */
  readonly state: ChatState;
  /** A raw-mode terminal (else scripted: every room's lines are printed). */
  readonly interactive: boolean;
  /** The client lines go to, once attached. */
  client(): V2Client | undefined;
  /** Render an event now: counted, maybe a bell, printed. */
  show(event: ChatEvent, self: string): void;
  /** An event's lines, not printed. */
  render(event: ChatEvent, self: string): string[];
  /** Print lines above the input. */
  print(lines: string[]): void;
  /** A status line. */
  info(text: string): void;
  /** Ring the bell (when the view rings for mentions). */
  ring(): void;
  /** Redraw the prompt and status line. */
  updatePrompt(): void;
  /** A room name seen, for completion. */
  roomSeen(room: string): void;
}

/**
 * One connection's version 2 state: the replay, the rooms not shown, the DMs
 * shown and the users online.
 */
export class V2Session {
  readonly #view: V2SessionView;
  /** Lines of rooms not shown. */
  readonly #backlog = new RoomBacklog();
  /** Per conversation partner, the newest DM id shown. */
  readonly #dmShown = new Map<string, number>();
  /** Users seen online (sharing a room), for completion. */
  readonly #online = new Set<string>();
  /** The login replay: the room frames, held until `ready`. */
  #replay: RoomEntered[] | undefined;

  /** @param view The screen side it shows through. */
  constructor(view: V2SessionView) {
    this.#view = view;
  }

  /** A connection began: with `replay`, hold room frames until `ready`. */
  connected(replay: boolean): void {
    this.#replay = replay ? [] : undefined;
  }

  /** True while the login replay is held (the rooms are known at `ready`). */
  get replaying(): boolean {
    return this.#replay !== undefined;
  }

  /** Users seen online, for completion. */
  get online(): ReadonlySet<string> {
    return this.#online;
  }

  /**
   * Version 2: the replay, rooms not shown, read markers, parting and away.
   *
   * @param event The event from the server.
   * @param self The user's name.
   * @returns True when the event was dealt with here.
   */
  event(event: ChatEvent, self: string): boolean {
    const view = this.#view;
    const state = view.state;
    switch (event.kind) {
      case "room":
        if (this.#replay !== undefined) {
          this.#replay.push(event);
          return true;
        }
        // Joined after the replay (here or on another device): go there.
        state.joined(event.room, { members: event.members });
        view.roomSeen(event.room);
        state.switchTo(event.room);
        view.show(event, self);
        state.switchTo(event.room);
        view.client()?.read?.(event.room);
        return true;
      case "ready":
        this.#endReplay(self);
        return true;
      case "read":
        if (event.room !== undefined) this.#readElsewhere(event.room, event.lastRead, self);
        return true;
      case "conversations":
        // DMs are not replayed in version 2: fetch the unread ones.
        for (const c of event.conversations) {
          if (c.unread > 0) {
            view.client()?.fetchDms?.(c.with, Math.min(c.unread, MAX_DMS_FETCHED));
          }
        }
        return true;
      case "history":
        if (event.with !== undefined) this.#missedDms(event.with, event.messages, self);
        return true;
      case "dm": {
        view.show(event, self);
        const other = event.from === self ? event.to : event.from;
        this.#dmShown.set(other, Math.max(event.id, this.#dmShown.get(other) ?? 0));
        view.client()?.readDms?.(other, event.id);
        return true;
      }
      case "part":
        if (event.user !== self) break;
        {
          const shown = state.current;
          this.#backlog.forget(event.room);
          state.left(event.room);
          if (event.room === shown) {
            view.show(event, self);
            this.showBacklog(self);
          } else view.info(`You left #${event.room}`);
        }
        view.updatePrompt();
        return true;
      case "presence":
        if (event.online) this.#online.add(event.user);
        else this.#online.delete(event.user);
        if (event.user === self) {
          state.away = event.away !== undefined && event.away !== "";
          view.updatePrompt();
        }
        break;
    }
    if (!view.interactive) return false;
    const room = "room" in event && typeof event.room === "string" ? event.room : undefined;
    if (room === undefined || room === state.current) return false;
    // A room not shown: counted, kept for when the user switches there.
    if (event.kind === "message") {
      const mention = event.from !== self && mentions(event.text, self);
      state.message(room, { mention, from: event.from });
      if (mention) view.ring();
    } else if (event.kind === "join" || event.kind === "part") {
      state.presence(room, event.user, event.kind === "join");
    }
    this.#backlog.push(room, event);
    view.updatePrompt();
    return true;
  }

  /**
   * The current room's kept lines, printed once it is switched to.
   *
   * @param self The user's name.
   */
  showBacklog(self: string): void {
    const room = this.#view.state.current;
    if (room === undefined) return;
    const kept = this.#backlog.take(room);
    const lines = [`-- #${sanitise(room)} --`];
    if (kept.dropped > 0) {
      lines.push(`-- ${kept.dropped} older lines not kept (${MAX_BACKLOG_EVENTS} per room) --`);
    }
    for (const event of kept.events) lines.push(...this.#view.render(event, self));
    this.#view.print(lines);
  }

  /** DMs with `user` fetched after login: those not shown yet, then marked read. */
  #missedDms(user: string, messages: readonly ChatEvent[], self: string): void {
    const shown = this.#dmShown.get(user) ?? 0;
    const fresh = messages.filter((m) => m.kind === "dm" && m.id > shown);
    const last = fresh.at(-1);
    if (last === undefined || last.kind !== "dm") return;
    const lines = [
      `-- ${fresh.length} unread DM${fresh.length === 1 ? "" : "s"} with ${sanitise(user)} --`,
    ];
    for (const dm of fresh) lines.push(...this.#view.render(dm, self));
    this.#view.print(lines);
    this.#dmShown.set(user, last.id);
    this.#view.client()?.readDms?.(user, last.id);
  }

  /** `ready`: take the rooms of the replay, show the current one, keep the others. */
  #endReplay(self: string): void {
    const view = this.#view;
    const state = view.state;
    const frames = this.#replay ?? [];
    this.#replay = undefined;
    const names = new Set(frames.map((f) => f.room));
    for (const gone of state.rooms().filter((r) => !names.has(r.name))) {
      this.#backlog.forget(gone.name);
    }
    state.keepOnly(names);
    const previous = state.current;
    const current = previous !== undefined && names.has(previous)
      ? previous
      : names.has("lobby")
      ? "lobby"
      : frames[0]?.room;
    const shown = frames.find((f) => f.room === current);
    const ordered = shown === undefined ? frames : [shown, ...frames.filter((f) => f !== shown)];
    for (const frame of ordered) {
      view.roomSeen(frame.room);
      state.joined(frame.room, {
        members: frame.members,
        ...(frame.unread === undefined ? {} : { unread: frame.unread }),
        ...(frame.mentioned === undefined ? {} : { mentioned: frame.mentioned ? 1 : 0 }),
      });
      if (frame === shown) {
        state.switchTo(frame.room);
        view.show(frame, self);
        state.switchTo(frame.room); // the frame's counts are read here
        if ((frame.unread ?? 0) > 0) view.client()?.read?.(frame.room);
      } else if (!view.interactive) {
        view.show(frame, self);
      } else if (frame.history.length > 0) {
        this.#backlog.push(frame.room, frame);
      }
    }
    view.updatePrompt();
  }

  /** Another session moved a read marker: what it read is not unread here. */
  #readElsewhere(room: string, lastRead: number, self: string): void {
    const view = this.#view;
    const state = view.state;
    if (lastRead >= (view.client()?.lastId?.(room) ?? 0)) {
      state.clear(room);
    } else if (room !== state.current) {
      const kept = this.#backlog.take(room);
      const counts = state.rooms().find((r) => r.name === room);
      if (counts !== undefined) {
        const unread = kept.events.filter((e) =>
          e.kind === "message" && e.id > lastRead && e.from !== self
        );
        counts.unread = Math.min(counts.unread, unread.length);
        counts.mentioned = Math.min(
          counts.mentioned,
          unread.filter((e) => e.kind === "message" && mentions(e.text, self)).length,
        );
      }
      for (const e of kept.events) this.#backlog.push(room, e);
    }
    view.updatePrompt();
  }
}
