/**
 * The prompt and the status line, from the client's state: pure functions
 * that give plain text (names sanitised), cut to the terminal's width.
 *
 * ```text
 * [#lobby] alice [away] | Act: #dev(3) #ops(1!)      status line
 * [#lobby] alice>                                     prompt
 * (reconnecting) [#lobby] alice>                      prompt while not connected
 * ```
 *
 * @module
 */
import { graphemes, graphemeWidth } from "./_display_width.ts";
import { sanitiseName } from "./sanitise.ts";

/** A room as the status line shows it. */
export interface StatusRoom {
  readonly name: string;
  readonly unread: number;
  readonly mentioned: number;
}

/** What the prompt and status line show. */
export interface StatusView {
  /** The reader's name; `""` before login. */
  readonly self: string;
  /** The current room, if any. */
  readonly current: string | undefined;
  /** The other rooms, in order. */
  readonly others: readonly StatusRoom[];
  /** Marked away. */
  readonly away: boolean;
  /** `connected`, or what the connection is doing instead. */
  readonly connection: string;
  /** Lines typed while not connected, waiting. */
  readonly pending?: number;
  /**
   * Every room, in order (Alt-1 is the first), listed at the end when there
   * are several.
   */
  readonly rooms?: readonly string[];
}

function roomName(raw: string): string {
  const shown = sanitiseName(raw);
  return shown.startsWith("#") ? shown : "#" + shown;
}

/**
 * Cut `text` to at most `columns - 1` columns (so it never wraps), ending
 * with `…` when cut.
 *
 * @param text Plain text.
 * @param columns The terminal's width.
 * @returns The text as it fits.
 */
export function fitWidth(text: string, columns: number): string {
  const room = Math.max(1, columns - 1);
  let used = 0;
  let out = "";
  const all = graphemes(text);
  for (const [i, g] of all.entries()) {
    const w = graphemeWidth(g);
    const last = i === all.length - 1;
    if (used + w > room - (last ? 0 : 1)) return out + "…";
    out += g;
    used += w;
  }
  return out;
}

/**
 * The prompt: `[#room] nick> `, led by the connection state when not
 * connected.
 *
 * @param view The state shown.
 * @returns Plain text.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderPrompt } from "./status_line.ts";
 *
 * const view = { self: "alice", current: "lobby", others: [], away: false, connection: "connected" };
 * assert.equal(renderPrompt(view), "[#lobby] alice> ");
 * assert.equal(renderPrompt({ ...view, connection: "reconnecting" }), "(reconnecting) [#lobby] alice> ");
 * ```
 */
export function renderPrompt(view: StatusView): string {
  const state = view.connection === "connected" ? "" : `(${view.connection}) `;
  const room = view.current === undefined ? "" : `[${roomName(view.current)}] `;
  const nick = view.self === "" ? "" : sanitiseName(view.self);
  return `${state}${room}${nick}> `;
}

/**
 * The status line: current room, name, away, connection, pending lines,
 * then `Act:` with the other rooms that have unread messages (`!` after the
 * count when any mention the reader), then every room numbered as Alt-N
 * switches to it, when there are several.
 *
 * @param view The state shown.
 * @param columns The terminal's width, when known.
 * @returns Plain text, one row.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderStatus } from "./status_line.ts";
 *
 * const line = renderStatus({
 *   self: "alice",
 *   current: "lobby",
 *   others: [{ name: "dev", unread: 3, mentioned: 0 }, { name: "ops", unread: 1, mentioned: 1 }],
 *   away: true,
 *   connection: "connected",
 * });
 * assert.equal(line, "[#lobby] alice [away] | Act: #dev(3) #ops(1!)");
 * ```
 */
export function renderStatus(view: StatusView, columns?: number): string {
  const parts = [
    view.current === undefined ? "[no room]" : `[${roomName(view.current)}]`,
  ];
  if (view.self !== "") parts.push(sanitiseName(view.self));
  if (view.away) parts.push("[away]");
  if (view.connection !== "connected") parts.push(`[${view.connection}]`);
  if ((view.pending ?? 0) > 0) parts.push(`[${view.pending} pending]`);
  const active = view.others.filter((r) => r.unread > 0 || r.mentioned > 0)
    .map((r) => `${roomName(r.name)}(${r.unread}${r.mentioned > 0 ? "!" : ""})`);
  const all = view.rooms ?? [];
  const numbered = all.length < 2
    ? ""
    : ` | ${all.map((r, i) => `${i + 1}:${roomName(r)}`).join(" ")}`;
  const text = parts.join(" ") + (active.length > 0 ? ` | Act: ${active.join(" ")}` : "") +
    numbered;
  return columns === undefined ? text : fitWidth(text, columns);
}
