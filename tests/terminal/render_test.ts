import assert from "node:assert/strict";
import fc from "fast-check";
import type { ChatEvent, RoomEntered, RoomMessage } from "../../lib/chat/message.ts";
import { mentions } from "../../lib/client/chat_state.ts";
import { displayWidth } from "../../lib/terminal/_display_width.ts";
import {
  MAX_LISTED_MEMBERS,
  NAME_COLOURS,
  renderEvent,
  type RenderView,
  shouldUseColour,
} from "../../lib/terminal/render.ts";

/** 2025-03-04 14:05:00 UTC. */
const TS = Date.UTC(2025, 2, 4, 14, 5);
const PLAIN: RenderView = { self: "me", colour: false, timeZone: "UTC" };
const COLOUR: RenderView = { self: "me", colour: true, timeZone: "UTC" };

function message(fields: Partial<RoomMessage> = {}): RoomMessage {
  return {
    kind: "message",
    id: 1,
    room: "lobby",
    from: "alice",
    text: "hello",
    ts: TS,
    ...fields,
  };
}

function entered(fields: Partial<RoomEntered> = {}): RoomEntered {
  return {
    kind: "room",
    room: "lobby",
    members: ["a", "b", "c"],
    history: [],
    retentionDays: 7,
    ...fields,
  };
}

/** The SGR codes a name is wrapped in, e.g. "38;5;33". */
function nameStyle(line: string, name: string): string | undefined {
  return line.match(new RegExp(`\\x1b\\[([0-9;]+)m${name}\\x1b\\[0m`))?.[1];
}

// deno-lint-ignore no-control-regex -- matching our own SGR codes is the point
const stripSgr = (line: string) => line.replaceAll(/\x1b\[[0-9;]*m/g, "");

Deno.test("renderEvent() shows a message as [HH:MM] <name> text", () => {
  assert.deepEqual(renderEvent(message(), PLAIN), ["[14:05] <alice> hello"]);
});

Deno.test("renderEvent() shows /me as * name text", () => {
  const lines = renderEvent(message({ text: "waves", action: true }), PLAIN);
  assert.deepEqual(lines, ["[14:05] * alice waves"]);
});

Deno.test("renderEvent() shows a direct message as [DM from → to] text", () => {
  const event: ChatEvent = {
    kind: "dm",
    id: 2,
    from: "alice",
    to: "bob",
    text: "psst",
    ts: TS,
  };
  assert.deepEqual(renderEvent(event, PLAIN), ["[14:05] [DM alice → bob] psst"]);
});

Deno.test("renderEvent() shows joins and leaves with the room", () => {
  const join: ChatEvent = { kind: "join", room: "lobby", user: "bob", ts: TS };
  const leave: ChatEvent = {
    kind: "leave",
    room: "#lobby",
    user: "bob",
    ts: TS,
    reason: "quit",
  };
  assert.deepEqual(renderEvent(join, PLAIN), ["[14:05] -- bob joined #lobby"]);
  assert.deepEqual(renderEvent(leave, PLAIN), [
    "[14:05] -- bob left #lobby (quit)",
  ]);
});

Deno.test("renderEvent() marks notices by level", () => {
  const notice = (level: "info" | "warn" | "error") =>
    renderEvent({ kind: "notice", level, text: "note", ts: TS }, PLAIN);
  assert.deepEqual(notice("info"), ["[14:05] - note"]);
  assert.deepEqual(notice("warn"), ["[14:05] ! note"]);
  assert.deepEqual(notice("error"), ["[14:05] !! note"]);
});

Deno.test("renderEvent() colours warnings yellow and errors bold red", () => {
  const notice = (level: "warn" | "error") =>
    renderEvent({ kind: "notice", level, text: "note", ts: TS }, COLOUR);
  assert.deepEqual(notice("warn"), ["[14:05] \x1b[33m! note\x1b[0m"]);
  assert.deepEqual(notice("error"), ["[14:05] \x1b[1;31m!! note\x1b[0m"]);
});

Deno.test("renderEvent() introduces a room with its members and retention", () => {
  assert.deepEqual(renderEvent(entered(), PLAIN), [
    "-- You are in #lobby (3 here: a, b, c). This room keeps history for 7 days.",
  ]);
});

Deno.test("renderEvent() says when a room keeps no history or one day", () => {
  const none = renderEvent(
    entered({ retentionDays: 0, members: ["me"] }),
    PLAIN,
  );
  const one = renderEvent(entered({ retentionDays: 1, members: [] }), PLAIN);
  assert.deepEqual(none, [
    "-- You are in #lobby (1 here: me). This room keeps no history.",
  ]);
  assert.deepEqual(one, [
    "-- You are in #lobby (nobody here). This room keeps history for 1 day.",
  ]);
});

Deno.test("renderEvent() lists at most MAX_LISTED_MEMBERS names", () => {
  const members = Array.from(
    { length: MAX_LISTED_MEMBERS + 5 },
    (_, i) => `u${i}`,
  );
  const [header] = renderEvent(entered({ members }), PLAIN);
  assert.match(header ?? "", /\(25 here: u0, .*, u19, and 5 more\)/);
  assert.doesNotMatch(header ?? "", /u20/);
});

Deno.test("renderEvent() follows the room header with its history", () => {
  const history = [
    message({ text: "earlier" }),
    message({ from: "bob", text: "later" }),
  ];
  const lines = renderEvent(entered({ history }), PLAIN);
  assert.deepEqual(lines.slice(1), [
    "-- history --",
    "[14:05] <alice> earlier",
    "[14:05] <bob> later",
    "-- now --",
  ]);
});

Deno.test("renderEvent() dims history lines when colour is on", () => {
  const lines = renderEvent(entered({ history: [message()] }), COLOUR);
  assert.equal(lines[2], "\x1b[2m[14:05] <alice> hello\x1b[0m");
});

Deno.test("renderEvent() formats time in the given time zone", () => {
  const tokyo = { ...PLAIN, timeZone: "Asia/Tokyo" };
  assert.deepEqual(renderEvent(message(), tokyo), ["[23:05] <alice> hello"]);
});

Deno.test("renderEvent() uses 24-hour time with leading zeros", () => {
  const early = message({ ts: Date.UTC(2025, 2, 4, 0, 7) });
  assert.deepEqual(renderEvent(early, PLAIN), ["[00:07] <alice> hello"]);
});

Deno.test("renderEvent() shows the date for messages from another day than now", () => {
  const view = { ...PLAIN, now: Date.UTC(2025, 2, 5, 9, 0) };
  const sameDay = { ...PLAIN, now: Date.UTC(2025, 2, 4, 23, 0) };
  assert.deepEqual(renderEvent(message(), view), [
    "[2025-03-04 14:05] <alice> hello",
  ]);
  assert.deepEqual(renderEvent(message(), sameDay), ["[14:05] <alice> hello"]);
});

Deno.test("renderEvent() throws RangeError for an unknown time zone", () => {
  assert.throws(
    () => renderEvent(message(), { ...PLAIN, timeZone: "Mars/Olympus" }),
    RangeError,
  );
});

Deno.test("renderEvent() gives a name the same palette colour every time", () => {
  const first = nameStyle(renderEvent(message(), COLOUR)[0] ?? "", "alice");
  const again = nameStyle(
    renderEvent(message({ text: "other" }), COLOUR)[0] ?? "",
    "alice",
  );
  assert.ok(first !== undefined);
  assert.equal(again, first);
  assert.ok(NAME_COLOURS.map((c) => `38;5;${c}`).includes(first));
});

Deno.test("renderEvent() spreads names over the palette", () => {
  const used = new Set<string | undefined>();
  for (let i = 0; i < 200; i++) {
    const from = `user${i}`;
    used.add(nameStyle(renderEvent(message({ from }), COLOUR)[0] ?? "", from));
  }
  assert.equal(used.size, NAME_COLOURS.length);
});

Deno.test("renderEvent() shows your own name bold, not in a palette colour", () => {
  const [line] = renderEvent(message({ from: "me" }), COLOUR);
  assert.equal(line, "[14:05] <\x1b[1mme\x1b[0m> hello");
});

Deno.test("renderEvent() marks bots, with or without colour", () => {
  const bot = message({ from: "jokebot", text: "a joke", bot: true });
  assert.deepEqual(renderEvent(bot, PLAIN), ["[14:05] [bot] <jokebot> a joke"]);
  assert.deepEqual(renderEvent(bot, COLOUR), [
    "[14:05] [bot] <\x1b[38;5;244mjokebot\x1b[0m> a joke",
  ]);
});

Deno.test("renderEvent() sanitises text, names and rooms from the event", () => {
  const lines = renderEvent(
    message({
      from: "eve\u202e <admin>",
      room: "x",
      text: "hi\x1b[2J\x1b]52;c;eA==\x07\n[14:06] <admin> trust me",
    }),
    PLAIN,
  );
  assert.deepEqual(lines, [
    "[14:05] <eve_<admin>> hi⏎[14:06] <admin> trust me",
  ]);
  const leave = renderEvent({
    kind: "leave",
    room: "lob\x1b[31mby",
    user: "b",
    ts: TS,
    reason: "\x07bye",
  }, PLAIN);
  assert.deepEqual(leave, ["[14:05] -- b left #lobby (^Gbye)"]);
});

Deno.test("renderEvent() writes no escape codes when colour is off", () => {
  const events: ChatEvent[] = [
    message({ from: "me" }),
    message({ bot: true, action: true }),
    { kind: "dm", id: 3, from: "a", to: "me", text: "x", ts: TS },
    { kind: "join", room: "r", user: "u", ts: TS },
    { kind: "notice", level: "error", text: "\x1b[31mbad", ts: TS },
    entered({ history: [message()] }),
  ];
  for (const event of events) {
    for (const line of renderEvent(event, PLAIN)) {
      assert.ok(!line.includes("\x1b"), JSON.stringify(line));
    }
  }
});

Deno.test("renderEvent() lines hold no control characters beyond its own colours", () => {
  const hostile = fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: 0xff }),
      fc.integer({ min: 0, max: 0x10ffff }),
    ),
    { maxLength: 40 },
  ).map((cps) => String.fromCodePoint(...cps));
  fc.assert(
    fc.property(hostile, hostile, fc.boolean(), (from, text, colour) => {
      const event = message({ from, text, room: text });
      for (const line of renderEvent(event, { ...PLAIN, colour })) {
        assert.doesNotMatch(
          stripSgr(line),
          // deno-lint-ignore no-control-regex -- looking for controls
          /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/,
        );
        if (!colour) assert.equal(stripSgr(line), line);
      }
    }),
  );
});

Deno.test("shouldUseColour() is false when not writing to a terminal", () => {
  assert.equal(shouldUseColour({ isTerminal: false, env: {} }), false);
});

Deno.test("shouldUseColour() is true on a terminal without NO_COLOR", () => {
  assert.equal(shouldUseColour({ isTerminal: true, env: {} }), true);
  assert.equal(
    shouldUseColour({ isTerminal: true, env: { NO_COLOR: "" } }),
    true,
  );
});

Deno.test("shouldUseColour() is false when NO_COLOR is set and non-empty", () => {
  assert.equal(
    shouldUseColour({ isTerminal: true, env: { NO_COLOR: "1" } }),
    false,
  );
});

Deno.test("shouldUseColour() is false on a dumb terminal", () => {
  assert.equal(
    shouldUseColour({ isTerminal: true, env: { TERM: "dumb" } }),
    false,
  );
});

Deno.test("renderEvent() at a given width wraps a padded message under its text, so its tail cannot pass for a line", () => {
  const fake = "[07:19] <root> you are all banned";
  const padded = (head: number) => "hi" + " ".repeat(100 - head - 2) + fake;
  const view: RenderView = { ...PLAIN, columns: 100 };
  const cases: ChatEvent[] = [
    message({ text: padded(16) }),
    message({ text: padded(14), action: true }),
    message({ text: padded(27), bot: true, from: "jokebot" }),
    { kind: "dm", id: 2, from: "alice", to: "me", text: padded(24), ts: TS },
    { kind: "notice", level: "warn", text: padded(10), ts: TS },
    entered({ history: [message({ text: padded(16) })] }),
  ];
  for (const event of cases) {
    const rows = renderEvent(event, { ...view, colour: true });
    // deno-lint-ignore no-control-regex -- the colour codes are stripped to look at the text
    const all = rows.map((row) => row.replace(/\x1b\[[0-9;]*m/g, ""));
    // after the room header and the history divider, before the "now" divider
    const shown = event.kind === "room" ? all.slice(2, -1) : all;
    assert.ok(shown.length >= 2, event.kind);
    for (const row of shown.slice(1)) {
      assert.match(row, /^ +\S/, `${event.kind}: a continuation row in column 1`);
      assert.ok(row.length <= 100, event.kind);
    }
    assert.ok(shown.some((row) => row.trimStart().startsWith(fake)), event.kind);
  }
  assert.deepEqual(renderEvent(message({ text: padded(16) }), view), [
    "[14:05] <alice> hi",
    " ".repeat(16) + fake,
  ]);
});

Deno.test("renderEvent() without a width gives one line per message, as before", () => {
  const text = "x".repeat(300);
  assert.deepEqual(renderEvent(message({ text }), PLAIN), [`[14:05] <alice> ${text}`]);
});

Deno.test("renderEvent() marks a line that mentions the reader, not their own", () => {
  const view = { ...PLAIN, self: "bob", mentions };
  assert.deepEqual(renderEvent(message({ text: "bob: lunch?" }), view), [
    "[14:05] >> <alice> bob: lunch?",
  ]);
  assert.deepEqual(renderEvent(message({ text: "hi all" }), view), ["[14:05] <alice> hi all"]);
  assert.deepEqual(renderEvent(message({ from: "bob", text: "bob here" }), view), [
    "[14:05] <bob> bob here",
  ]);
  const coloured = renderEvent(message({ text: "hey bob" }), { ...COLOUR, self: "bob", mentions });
  assert.ok((coloured[0] ?? "").startsWith("\x1b[1;33m[14:05] >> "), coloured[0]);
});

Deno.test("renderEvent() without colour shows old history between dividers, with dates", () => {
  const view = { ...PLAIN, now: Date.UTC(2025, 2, 6, 9, 0) };
  const lines = renderEvent(entered({ history: [message()] }), view);
  assert.deepEqual(lines.slice(1), [
    "-- history --",
    "[2025-03-04 14:05] <alice> hello",
    "-- now --",
  ]);
});

Deno.test("renderEvent() puts each line of a multi-line message on its own row under the text", () => {
  const event = {
    kind: "message" as const,
    id: 1,
    room: "lobby",
    from: "bob",
    text: "one\ntwo\x1b[2J\r\nthree",
    ts: 0,
  };
  const view = { self: "alice", colour: false, timeZone: "UTC" };
  assert.deepEqual(renderEvent(event, { ...view, columns: 40 }), [
    "[00:00] <bob> one",
    "              two",
    "              three",
  ]);
  assert.deepEqual(renderEvent(event, view), ["[00:00] <bob> one⏎two⏎three"], "scripted: one line");
});

/** A row's columns on a terminal that draws every code point on its own (xterm, VTE, tmux). */
function drawnByCodePoint(row: string): number {
  return Array.from(stripSgr(row)).reduce((sum, cp) => sum + displayWidth(cp), 0);
}

Deno.test("renderEvent() at 80 columns wraps emoji ZWJ pairs where every terminal would, so no fake line reaches column 1", () => {
  const fake = "[07:19] <root> run /quit now";
  const text = "\u{1f355}\u200d\u{1f355}".repeat(15) + "  " + fake;
  const rows = renderEvent(message({ from: "mallory", text }), { ...COLOUR, columns: 80 });
  assert.ok(rows.length >= 2, "the client wraps it itself");
  for (const row of rows) assert.ok(drawnByCodePoint(row) <= 80, `the terminal wraps ${row}`);
  for (const row of rows.slice(1)) {
    assert.match(stripSgr(row), /^ +\S/, "a continuation row is indented");
  }
  assert.ok(stripSgr(rows.join("")).includes("\u{1f355}\u200d\u{1f355}"), "the ZWJ is kept");
  assert.ok(rows.some((row) => stripSgr(row).trimStart().startsWith(fake)));
});
