/**
 * Turns chat events into the lines the client shows. Pure: no terminal, no
 * clock; everything taken from an event passes through
 * {@linkcode sanitise} or {@linkcode sanitiseName}, so the only escape codes
 * in a line are the colours added here.
 *
 * ```text
 * [14:02] <alice> hello
 * [14:02] * alice waves
 * [14:03] [DM alice → bob] psst
 * [14:03] >> <alice> bob: lunch?          (a line that mentions you)
 * [14:03] [bot] <jokebot> Why did the chicken ...
 * [14:04] -- bob joined #lobby
 * [14:05] ! You are sending too fast
 * ```
 *
 * Colours (256-colour SGR): each name gets one of
 * {@linkcode NAME_COLOURS}, picked by a hash of the name so it is stable
 * across lines and sessions; your own name is bold in the terminal's default
 * colour; bots are grey and always marked `[bot]`, with or without colour;
 * history shown on entering a room is dim, between `-- history --` and
 * `-- now --` rows so it reads as old without colour too; a line that
 * mentions the reader starts with `>>` and is bold yellow.
 *
 * @module
 */
import type {
  ChatEvent,
  DirectMessage,
  ListingEvent,
  NoticeEvent,
  OnlineEvent,
  PresenceEvent,
  RoomEntered,
  RoomMessage,
} from "../chat/message.ts";
import { displayWidth } from "./_display_width.ts";
import { NEWLINE_SYMBOL, sanitise, sanitiseName } from "./sanitise.ts";
import { hangingIndent, wrapLine } from "./wrap.ts";

/** How to render: who is reading, and whether colour is allowed. */
export interface RenderView {
  /** The reader's own name; their messages are shown distinctly. */
  readonly self: string;
  /** Add SGR colour codes; when false the lines contain no escape codes. */
  readonly colour: boolean;
  /**
   * The current time, ms since the epoch. When given, messages from another
   * day than this one show their date (`[2025-01-31 23:59]`).
   *
   * @default {undefined} (times only)
   */
  readonly now?: number;
  /**
   * IANA time zone for timestamps, e.g. `"UTC"` or `"Europe/Berlin"`.
   *
   * @default {undefined} (the local time zone)
   */
  readonly timeZone?: string;
  /**
   * The terminal's width. When given, long lines are wrapped here, with
   * continuation rows indented under the message text (see
   * {@linkcode wrapLine}), so that no row but a line's first starts in
   * column 1 and a message padded to the width cannot pass for a line of
   * its own.
   *
   * @default {undefined} (no wrapping: one string per line)
   */
  readonly columns?: number;
  /**
   * Whether a message's text mentions the reader; such lines are marked.
   *
   * @default {undefined} (nothing is marked)
   */
  readonly mentions?: (text: string, self: string) => boolean;
}

/** Before the history shown on entering a room. */
export const HISTORY_DIVIDER = "-- history --";
/** After it: what follows is live. */
export const NOW_DIVIDER = "-- now --";

/**
 * 256-colour codes for names: mid-tones that read on dark and light
 * backgrounds. Red-ish error colours and the bot grey are not among them.
 */
export const NAME_COLOURS: readonly number[] = [
  33,
  37,
  35,
  70,
  136,
  166,
  168,
  170,
  134,
  99,
  67,
  173,
];

/** Most members listed by name when entering a room. */
export const MAX_LISTED_MEMBERS = 20;

const BOT_COLOUR = 244;
const SGR = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  yellow: "\x1b[33m",
  boldYellow: "\x1b[1;33m",
  boldRed: "\x1b[1;31m",
} as const;

function paint(text: string, code: string, colour: boolean): string {
  return colour ? code + text + SGR.reset : text;
}

/** The colour code for a name: FNV-1a hash of its UTF-16 units. */
function nameColour(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  }
  return NAME_COLOURS[hash % NAME_COLOURS.length] ?? 0;
}

function name(raw: string, view: RenderView, bot = false): string {
  const shown = sanitiseName(raw);
  if (bot) return paint(shown, `\x1b[38;5;${BOT_COLOUR}m`, view.colour);
  if (raw === view.self) return paint(shown, SGR.bold, view.colour);
  return paint(shown, `\x1b[38;5;${nameColour(raw)}m`, view.colour);
}

/** Rooms are shown with a leading `#`. */
function room(raw: string): string {
  const shown = sanitiseName(raw);
  return shown.startsWith("#") ? shown : "#" + shown;
}

function partsOf(format: Intl.DateTimeFormat, ts: number) {
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(ts)) parts[part.type] = part.value;
  return parts;
}

/** Formats an event time as `[HH:MM]` or `[YYYY-MM-DD HH:MM]`. */
type Stamp = (ts: number) => string;

/** One formatter per time zone: making one costs more than rendering a line. */
const FORMATS = new Map<string | undefined, Intl.DateTimeFormat>();
/** Time zones kept in {@linkcode FORMATS}; a reader uses one or two. */
const MAX_FORMATS = 8;

function formatFor(timeZone: string | undefined): Intl.DateTimeFormat {
  let format = FORMATS.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-GB", {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      ...(timeZone === undefined ? {} : { timeZone }),
    });
    if (FORMATS.size >= MAX_FORMATS) FORMATS.clear();
    FORMATS.set(timeZone, format);
  }
  return format;
}

function stamper(view: RenderView): Stamp {
  const format = formatFor(view.timeZone);
  const dayOf = (p: Record<string, string>) => `${p.year}-${p.month}-${p.day}`;
  const today = view.now === undefined ? undefined : dayOf(partsOf(format, view.now));
  return (ts) => {
    const p = partsOf(format, ts);
    const day = dayOf(p);
    const time = `${p.hour}:${p.minute}`;
    return today === undefined || day === today ? `[${time}]` : `[${day} ${time}]`;
  };
}

/** A line before wrapping: what comes before the text, and the text. */
interface Line {
  readonly head: string;
  readonly text: string;
}

/** The line as screen rows: wrapped under its text when the width is known. */
function rows(line: Line, view: RenderView, dim = false): string[] {
  const columns = view.columns;
  // The lines of a multi-line message (text sanitised line by line): one
  // row each under the text on a terminal, joined by ⏎ otherwise.
  const pieces = line.text.split("\n");
  if (columns === undefined || pieces.length === 1) {
    const whole = line.head + pieces.join(NEWLINE_SYMBOL);
    const shown = dim ? paint(whole, SGR.dim, view.colour) : whole;
    if (columns === undefined) return [shown];
    // displayWidth ignores the colour codes in the head.
    const indent = hangingIndent(displayWidth(line.head), columns);
    return wrapLine(shown, { columns, indent });
  }
  const indent = hangingIndent(displayWidth(line.head), columns);
  const under = " ".repeat(indent);
  return pieces.flatMap((piece, i) =>
    rows({ head: i === 0 ? line.head : under, text: piece }, view, dim)
  );
}

/** Message text for {@linkcode rows}: each of its lines sanitised, kept apart by `\n`. */
function messageText(text: string): string {
  return text.split(/\r?\n/).map((piece) => sanitise(piece)).join("\n");
}

function messageLine(
  event: RoomMessage,
  view: RenderView,
  stamp: Stamp,
): Line {
  const from = name(event.from, view, event.bot);
  const text = messageText(event.text);
  const bot = event.bot ? "[bot] " : "";
  const mark = isMention(event.text, event.from, view) ? ">> " : "";
  if (event.action) return { head: `${stamp(event.ts)} ${mark}${bot}* ${from} `, text };
  return { head: `${stamp(event.ts)} ${mark}${bot}<${from}> `, text };
}

function isMention(text: string, from: string, view: RenderView): boolean {
  return from !== view.self && view.mentions !== undefined && view.mentions(text, view.self);
}

function directLine(
  event: DirectMessage,
  view: RenderView,
  stamp: Stamp,
): Line {
  const between = `${name(event.from, view)} → ${name(event.to, view)}`;
  return { head: `${stamp(event.ts)} [DM ${between}] `, text: messageText(event.text) };
}

function presenceLine(
  event: PresenceEvent,
  view: RenderView,
  stamp: Stamp,
): Line {
  const verb = event.kind === "join" ? "joined" : "left";
  const reason = event.reason === undefined ? "" : ` (${sanitise(event.reason)})`;
  const who = name(event.user, view);
  return { head: `${stamp(event.ts)} -- `, text: `${who} ${verb} ${room(event.room)}${reason}` };
}

function noticeLine(
  event: NoticeEvent,
  view: RenderView,
  stamp: Stamp,
): Line {
  const text = sanitise(event.text);
  const marked = event.level === "info"
    ? "- " + text
    : event.level === "warn"
    ? paint("! " + text, SGR.yellow, view.colour)
    : paint("!! " + text, SGR.boldRed, view.colour);
  return { head: `${stamp(event.ts)} `, text: marked };
}

function onlineText(event: OnlineEvent, view: RenderView): string {
  const who = name(event.user, view);
  if (event.away !== undefined && event.away !== "") {
    return `${who} is away: ${sanitise(event.away)}`;
  }
  return event.online ? `${who} is online` : `${who} went offline`;
}

/** The data answers of version 2, as the text lines version 1 gives. */
function listingLines(event: ListingEvent, view: RenderView): string[] {
  const line = (text: string) => rows({ head: "- ", text }, view);
  switch (event.kind) {
    case "who": {
      const users = event.users.map((u) =>
        u.away === undefined ? name(u.name, view) : `${name(u.name, view)} (away)`
      );
      return line(`In ${room(event.room)} (${users.length}): ${users.join(", ")}`);
    }
    case "rooms":
      return line(
        `Rooms: ${event.rooms.map((r) => `${room(r.name)} (${r.members})`).join(", ")}`,
      );
    case "help":
      return event.commands.flatMap((c) => line(`${sanitise(c.usage)} — ${sanitise(c.summary)}`));
  }
}

function roomLines(
  event: RoomEntered,
  view: RenderView,
  stamp: Stamp,
): string[] {
  const count = event.members.length;
  const listed = event.members.slice(0, MAX_LISTED_MEMBERS).map((m) => name(m, view));
  if (count > MAX_LISTED_MEMBERS) {
    listed.push(`and ${count - MAX_LISTED_MEMBERS} more`);
  }
  const who = count === 0 ? "nobody here" : `${count} here: ${listed.join(", ")}`;
  const days = event.retentionDays;
  const keeps = days > 0
    ? `This room keeps history for ${days} ${days === 1 ? "day" : "days"}.`
    : "This room keeps no history.";
  const header = { head: "-- ", text: `You are in ${room(event.room)} (${who}). ${keeps}` };
  const plain: RenderView = { ...view, colour: false };
  const history = event.history.flatMap((m) => rows(messageLine(m, plain, stamp), view, true));
  if (history.length === 0) return rows(header, view);
  return [...rows(header, view), HISTORY_DIVIDER, ...history, NOW_DIVIDER];
}

/**
 * The screen lines for one chat event: one line per message (line breaks
 * inside a message show as `⏎`), a header plus the history for a room
 * entered. With `view.columns`, each line is wrapped to that width with a
 * hanging indent, so one line may become several rows.
 *
 * @param event The event to show.
 * @param view Who is reading and how; see {@linkcode RenderView}.
 * @returns Lines without line terminators.
 * @throws {RangeError} If `view.timeZone` is not a known time zone.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderEvent } from "./render.ts";
 *
 * const view = { self: "bob", colour: false, timeZone: "UTC" };
 * const lines = renderEvent({
 *   kind: "message",
 *   id: 1,
 *   room: "lobby",
 *   from: "alice",
 *   text: "hi",
 *   ts: 0,
 * }, view);
 * assert.deepEqual(lines, ["[00:00] <alice> hi"]);
 * ```
 */
export function renderEvent(event: ChatEvent, view: RenderView): string[] {
  const stamp = stamper(view);
  switch (event.kind) {
    case "message": {
      const line = messageLine(event, view, stamp);
      if (!isMention(event.text, event.from, view) || !view.colour) return rows(line, view);
      return rows({ head: SGR.boldYellow + line.head, text: line.text + SGR.reset }, view);
    }
    case "dm":
      return rows(directLine(event, view, stamp), view);
    case "join":
    case "leave":
      return rows(presenceLine(event, view, stamp), view);
    case "notice":
      return rows(noticeLine(event, view, stamp), view);
    case "room":
      return roomLines(event, view, stamp);
    case "part":
      return rows({
        head: `${stamp(event.ts)} -- `,
        text: `${name(event.user, view)} left ${room(event.room)}`,
      }, view);
    case "presence":
      return rows({ head: `${stamp(event.ts)} -- `, text: onlineText(event, view) }, view);
    case "topic":
      return rows({
        head: `${stamp(event.ts)} -- `,
        text: event.text === ""
          ? `${name(event.by, view)} cleared the topic of ${room(event.room)}`
          : `${name(event.by, view)} set the topic of ${room(event.room)}: ${sanitise(event.text)}`,
      }, view);
    case "who":
    case "rooms":
    case "help":
      return listingLines(event, view);
    default:
      // read markers, conversations, ready, history pages: nothing to show.
      return [];
  }
}

/** What {@linkcode shouldUseColour} looks at. */
export interface ColourEnvironment {
  /** Whether standard output is a terminal. */
  readonly isTerminal: boolean;
  /** Environment variables; `NO_COLOR` (non-empty) and `TERM=dumb` turn colour off. */
  readonly env: { readonly NO_COLOR?: string; readonly TERM?: string };
}

/**
 * Whether to colour output: only on a terminal, and not when `NO_COLOR` is
 * set to a non-empty value (https://no-color.org) or `TERM` is `dumb`.
 *
 * @param environment The output and the environment variables.
 * @returns True when colour codes may be written.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { shouldUseColour } from "./render.ts";
 *
 * assert.equal(shouldUseColour({ isTerminal: true, env: { NO_COLOR: "1" } }), false);
 * assert.equal(shouldUseColour({ isTerminal: true, env: {} }), true);
 * ```
 */
export function shouldUseColour(environment: ColourEnvironment): boolean {
  const { isTerminal, env } = environment;
  if (!isTerminal) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}
