/**
 * The lines a resume left out, fetched before the login replay is shown.
 *
 * A reconnecting client sends the newest id it has per room (`hello.resume`)
 * and the server replays what came after, but at most its history limit (50
 * by default): a `room` frame marked `truncated` has left out the oldest of
 * the missed lines. That happens whenever a busy room outpaces the reconnect,
 * for instance while a cluster instance killed with -9 is replaced by
 * another. {@linkcode ResumeGaps} holds the replay (and everything after
 * it) back, asks for the left-out lines page by page with `history` requests
 * (`before` the oldest line it has), and hands the room frame on with the
 * whole gap in its history, so the user sees every missed line once, in
 * order. It knows neither sockets nor the screen.
 *
 * @module
 */
import type { ChatEvent, RoomEntered, RoomMessage } from "../chat/message.ts";

/** Most missed lines fetched per room; past that, older ones are said to be left out. */
export const MAX_GAP_LINES = 500;

/** A `history` request to send for a gap. */
export interface GapRequest {
  readonly type: "history";
  readonly room: string;
  /** The oldest id held: the page ends below it. */
  readonly before: number;
  /** As many as the replay held (the server's page size). */
  readonly limit: number;
  /** Echoed on an error answering it; see {@linkcode ResumeGaps.failed}. */
  readonly id: string;
}

/** Something to pass on now: a chat event, or a status line for the user. */
export type GapOutput = { readonly event: ChatEvent } | { readonly info: string };

/** What one step gives: what to pass on, in order, and requests to send. */
export interface GapStep {
  readonly deliver: readonly GapOutput[];
  readonly requests: readonly GapRequest[];
}

/** One room's gap being filled. */
interface Gap {
  /** The newest id the client had (the resume). */
  readonly after: number;
  /** The replay's room event, held. */
  readonly event: RoomEntered;
  /** Missed lines fetched so far, oldest first. */
  older: RoomMessage[];
  /** Done: no more pages to ask for. */
  done: boolean;
  /** Done before reaching `after` (the bound, or a refused page). */
  partial: boolean;
}

/** The `id` of a gap's requests: names the room, so an error finds its gap. */
const REF_PREFIX = "resume-gap:";

/**
 * One connection's gaps: feed it every event from the server with
 * {@linkcode take}; it passes them on at once unless a gap is being filled.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResumeGaps } from "./resume_gaps.ts";
 *
 * const line = (id: number) => ({ kind: "message", id, room: "dev", from: "bob", text: `${id}`, ts: 0 } as const);
 * const gaps = new ResumeGaps(new Map([["dev", 3]]));
 * const room = { kind: "room", room: "dev", members: [], retentionDays: 1, history: [line(6), line(7)], truncated: true } as const;
 * const first = gaps.take(room);
 * assert.deepEqual(first.deliver, []);
 * assert.deepEqual(first.requests, [{ type: "history", room: "dev", before: 6, limit: 2, id: "resume-gap:dev" }]);
 * const filled = gaps.take({ kind: "history", room: "dev", messages: [line(4), line(5)], truncated: false });
 * const shown = filled.deliver[0];
 * assert.ok(shown !== undefined && "event" in shown && shown.event.kind === "room");
 * assert.deepEqual(shown.event.history.map((m) => m.id), [4, 5, 6, 7]);
 * ```
 */
export class ResumeGaps {
  readonly #resume: ReadonlyMap<string, number>;
  readonly #max: number;
  readonly #gaps = new Map<string, Gap>();
  /** Events held while a gap is filled, in arrival order; undefined when none is. */
  #held: ChatEvent[] | undefined;
  /** Until `ready`: only the login replay's room frames are resumed. */
  #replaying = true;

  /**
   * @param resume Per room, the newest id the client had when it said hello.
   * @param max Most lines fetched per room. @default MAX_GAP_LINES
   */
  constructor(resume: ReadonlyMap<string, number>, max = MAX_GAP_LINES) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot fill resume gaps: max must be a positive integer, got ${max}`);
    }
    this.#resume = new Map(resume);
    this.#max = max;
  }

  /** True while events are held for a gap. */
  get filling(): boolean {
    return this.#held !== undefined;
  }

  /**
   * An event from the server.
   *
   * @param event What arrived.
   * @returns What to pass on now, and requests to send.
   */
  take(event: ChatEvent): GapStep {
    const request = this.#replaying ? this.#open(event) : undefined;
    if (event.kind === "ready") this.#replaying = false;
    if (request !== undefined) {
      (this.#held ??= []).push(event);
      return { deliver: [], requests: [request] };
    }
    if (this.#held === undefined) return { deliver: [{ event }], requests: [] };
    if (event.kind === "history" && event.room !== undefined) {
      const gap = this.#gaps.get(event.room);
      if (gap !== undefined && !gap.done) return this.#page(event.room, gap, event);
    }
    this.#held.push(event);
    return { deliver: [], requests: [] };
  }

  /**
   * The server refused a request (an `error` frame with this `id`): the
   * gap of its room stays as far as it got.
   *
   * @param ref The error's `id`.
   * @returns What to pass on now; nothing when `ref` is not a gap's.
   */
  failed(ref: string | number | undefined): GapStep {
    if (typeof ref !== "string" || !ref.startsWith(REF_PREFIX)) {
      return { deliver: [], requests: [] };
    }
    const gap = this.#gaps.get(ref.slice(REF_PREFIX.length));
    if (gap === undefined || gap.done) return { deliver: [], requests: [] };
    gap.done = true;
    gap.partial = true;
    return { deliver: this.#release(), requests: [] };
  }

  /**
   * Stop waiting (the answers are late): pass on everything held, each
   * room with what was fetched so far.
   *
   * @returns What to pass on, in order.
   */
  flush(): GapOutput[] {
    if (this.#held === undefined) return [];
    for (const gap of this.#gaps.values()) {
      if (!gap.done) gap.done = gap.partial = true;
    }
    return this.#release();
  }

  /** A replay's room frame that left lines out: its first request. */
  #open(event: ChatEvent): GapRequest | undefined {
    if (event.kind !== "room" || event.truncated !== true) return undefined;
    const after = this.#resume.get(event.room);
    const oldest = event.history[0]?.id;
    if (after === undefined || oldest === undefined || oldest <= after) return undefined;
    if (this.#gaps.has(event.room)) return undefined; // a second replay of it: shown as it is
    this.#gaps.set(event.room, { after, event, older: [], done: false, partial: false });
    return this.#request(event.room, oldest, event.history.length);
  }

  #request(room: string, before: number, limit: number): GapRequest {
    return { type: "history", room, before, limit, id: `${REF_PREFIX}${room}` };
  }

  /** A page of a gap: keep its missed lines, then ask for more or finish. */
  #page(room: string, gap: Gap, page: Extract<ChatEvent, { kind: "history" }>): GapStep {
    const oldest = gap.older[0]?.id ?? gap.event.history[0]?.id ?? 0;
    const lines = page.messages.filter((m): m is RoomMessage => m.kind === "message");
    const missed = lines.filter((m) => m.id > gap.after && m.id < oldest);
    gap.older = [...missed, ...gap.older];
    const reached = !page.truncated || lines.some((m) => m.id <= gap.after);
    if (!reached && missed.length > 0 && gap.older.length < this.#max) {
      const next = gap.older[0]?.id ?? oldest;
      return { deliver: [], requests: [this.#request(room, next, page.messages.length)] };
    }
    gap.done = true;
    gap.partial = !reached;
    return { deliver: this.#release(), requests: [] };
  }

  /** When every gap is done: the held events, room frames with their gaps filled. */
  #release(): GapOutput[] {
    const held = this.#held;
    if (held === undefined || [...this.#gaps.values()].some((g) => !g.done)) return [];
    this.#held = undefined;
    const out: GapOutput[] = [];
    for (const event of held) {
      const gap = event.kind === "room" ? this.#gaps.get(event.room) : undefined;
      if (gap === undefined || gap.event !== event) {
        out.push({ event });
        continue;
      }
      if (gap.partial) {
        out.push({
          info: `Older lines of #${event.room} missed while away are not shown (${
            gap.older.length + event.history.length
          } fetched)`,
        });
      }
      out.push({
        event: { ...event, history: [...gap.older, ...event.history], truncated: gap.partial },
      });
    }
    return out;
  }
}
