import { deepEqual, equal, ok } from "node:assert/strict";
import { ChatUi } from "../../lib/client/chat_ui.ts";
import { DEFAULT_LIMITS } from "../../lib/client/run.ts";
import { MAX_BACKLOG_EVENTS } from "../../lib/client/room_backlog.ts";

/** An 80-column terminal UI at 2025-01-01 UTC, writing into `written`. */
function memoryUi(options: { bell?: boolean } = {}) {
  const written: string[] = [];
  const decoder = new TextDecoder();
  const chat = new ChatUi({
    write: (bytes) => written.push(decoder.decode(bytes)),
    interactive: true,
    colour: false,
    columns: () => 80,
    clock: { now: () => Date.UTC(2025, 0, 1) },
    timeZone: "UTC",
    ...options,
  });
  return { chat, written };
}

/** A terminal UI writing into memory, with a client that records what it says. */
function ui(options: { bell?: boolean; messageLines?: number } = {}) {
  const { messageLines = 50, ...uiOptions } = options;
  const said: string[] = [];
  const { chat, written } = memoryUi(uiOptions);
  chat.attach({
    say: (text) => (said.push(text), true),
    quit: () => said.push("<quit>"),
    limits: { ...DEFAULT_LIMITS, messageLines },
  });
  chat.connection("connected", "alice");
  chat.event({
    kind: "room",
    room: "lobby",
    members: ["alice", "bob"],
    history: [],
    retentionDays: 1,
  }, "alice");
  return { chat, written, said, screen: () => written.join("") };
}

Deno.test("ChatUi sends a paste of up to 5 lines as one message", () => {
  const t = ui();
  t.chat.action({ type: "paste", lines: ["one", "two", "three"] });
  deepEqual(t.said, ["one\ntwo\nthree"]);
});

Deno.test("ChatUi refuses a paste of more lines than the server takes, with the count", () => {
  const t = ui({ messageLines: 1 });
  t.chat.action({ type: "paste", lines: ["one", "two", "three"] });
  deepEqual(t.said, []);
  ok(t.screen().includes("-- Too many lines: 3, the server takes 1 in one message; not sent"));
});

Deno.test("ChatUi asks before sending a paste of more than 5 lines, and sends it on y", () => {
  const t = ui();
  const lines = ["1", "2", "3", "4", "5", "6"];
  t.chat.action({ type: "paste", lines });
  deepEqual(t.said, []);
  ok(t.screen().includes("Send 6 pasted lines as one message? [y/N] "));
  t.chat.line("y");
  deepEqual(t.said, [lines.join("\n")]);
  t.chat.action({ type: "paste", lines });
  t.chat.line("");
  equal(t.said.length, 1, "anything but y drops it");
  ok(t.screen().includes("-- Paste not sent"));
});

Deno.test("ChatUi refuses an over-long line with its length and puts it back in the input", () => {
  const t = ui();
  const long = "é".repeat(DEFAULT_LIMITS.messageChars + 1);
  t.chat.line(long);
  deepEqual(t.said, []);
  ok(t.screen().includes(`Line too long: ${DEFAULT_LIMITS.messageChars + 1} characters`));
  equal(t.chat.editor.text, long);
});

Deno.test("ChatUi shows a line typed while disconnected as pending and counts it in the status", () => {
  const t = ui();
  t.chat.connection("disconnected", "alice");
  t.chat.line("hello?");
  deepEqual(t.said, ["hello?"]);
  ok(t.screen().includes("-- pending (sent once reconnected): hello?"));
  ok(t.screen().includes("[#lobby] alice [disconnected] [1 pending]"));
  ok(t.screen().includes("(disconnected) [#lobby] alice> "));
  t.chat.connection("connected", "alice");
  equal(t.chat.state.pending().length, 0);
});

Deno.test("ChatUi /switch to a room it is not in says how to enter it; /away marks the status", () => {
  const t = ui();
  t.chat.line("/switch dev");
  ok(t.screen().includes("Cannot switch to #dev: you are not in it (/join dev enters it)"));
  t.chat.line("/away");
  ok(t.screen().includes("[#lobby] alice [away]"));
  t.chat.line("/away off");
  ok(t.screen().includes("-- You are back"));
  deepEqual(t.said, [], "client commands are not sent");
});

Deno.test("ChatUi /help for a client command answers locally, for a server one shows only its line", () => {
  const t = ui();
  t.chat.line("/help switch");
  ok(t.screen().includes("-- /switch ROOM — Make ROOM the current room"));
  t.chat.line("/help who");
  deepEqual(t.said, ["/help"]);
  const notice = (text: string) => ({
    kind: "notice" as const,
    level: "info" as const,
    text,
    ts: 0,
  });
  t.chat.event(notice("Commands (type end to leave, get_joke for a joke):"), "alice");
  t.chat.event(notice("/help — List commands"), "alice");
  t.chat.event(notice("/who — Who is in this room"), "alice");
  t.chat.event(notice("/rooms — List rooms"), "alice");
  const shown = t.screen();
  ok(shown.includes("-- /who — Who is in this room"));
  ok(!shown.includes("/rooms — List rooms"));
  ok(!shown.includes("Commands (type end"));
});

Deno.test("ChatUi rings the bell for a mention only when unfocused, always with bell on", () => {
  const mention = {
    kind: "message" as const,
    id: 2,
    room: "lobby",
    from: "bob",
    text: "alice?",
    ts: 0,
  };
  const quiet = ui();
  quiet.chat.event(mention, "alice");
  equal(quiet.written.filter((w) => w === "\x07").length, 0);
  quiet.chat.action({ type: "focus", focused: false });
  quiet.chat.event(mention, "alice");
  equal(quiet.written.filter((w) => w === "\x07").length, 1);
  const loud = ui({ bell: true });
  loud.chat.event(mention, "alice");
  loud.chat.event({ kind: "dm", id: 3, from: "bob", to: "alice", text: "psst", ts: 0 }, "alice");
  loud.chat.event({ ...mention, from: "alice" }, "alice");
  equal(loud.written.filter((w) => w === "\x07").length, 2, "not for your own line");
});

Deno.test("ChatUi Ctrl-C at a login prompt answers it with nothing and quits", async () => {
  const t = ui();
  const asked = t.chat.askUsername();
  t.chat.interrupt();
  equal(await asked, undefined);
  deepEqual(t.said, ["<quit>"]);
});

/** A version 2 UI after a login replay of `rooms` (each with `unread`), recording reads. */
function wideUi(rooms: { room: string; unread?: number; mentioned?: boolean }[]) {
  const said: string[] = [];
  const reads: string[] = [];
  const { chat, written } = memoryUi();
  chat.attach({
    say: (text, room) => (said.push(`${room}: ${text}`), true),
    quit: () => said.push("<quit>"),
    read: (room) => reads.push(room),
    lastId: () => 1_000_000,
    limits: { ...DEFAULT_LIMITS, messageLines: 50 },
  });
  chat.connection("connected", "alice", 2);
  for (const r of rooms) {
    chat.event({
      kind: "room",
      room: r.room,
      members: ["alice"],
      history: [],
      retentionDays: 1,
      ...(r.unread === undefined ? {} : { unread: r.unread }),
      ...(r.mentioned === undefined ? {} : { mentioned: r.mentioned }),
    }, "alice");
  }
  chat.event({ kind: "ready" }, "alice");
  return { chat, written, said, reads, screen: () => written.join("") };
}

Deno.test("ChatUi v2: the replay shows #lobby with the server's counts of the others; lines go to the room shown", () => {
  const t = wideUi([{ room: "dev", unread: 4 }, { room: "lobby" }, {
    room: "ops",
    unread: 1,
    mentioned: true,
  }]);
  equal(t.chat.state.current, "lobby");
  ok(t.screen().includes("[#lobby] alice | Act: #dev(4) #ops(1!) | 1:#lobby 2:#dev 3:#ops"));
  t.chat.line("hi");
  deepEqual(t.said, ["lobby: hi"]);
  t.chat.event({ kind: "read", room: "dev", lastRead: 1_000_000 }, "alice");
  ok(
    t.screen().endsWith(
      "[#lobby] alice | Act: #ops(1!) | 1:#lobby 2:#dev 3:#ops\r\n\r\x1b[2K[#lobby] alice> ",
    ),
  );
});

Deno.test(`ChatUi v2: a room not shown keeps at most ${MAX_BACKLOG_EVENTS} lines, shown on switching, which marks it read`, () => {
  const t = wideUi([{ room: "dev" }, { room: "lobby" }]);
  for (let id = 1; id <= MAX_BACKLOG_EVENTS + 3; id++) {
    t.chat.event({ kind: "message", id, room: "dev", from: "bob", text: `n${id}`, ts: 0 }, "alice");
  }
  ok(!t.screen().includes("<bob> n1"), "not shown while #dev is not the room shown");
  ok(t.screen().includes(`Act: #dev(${MAX_BACKLOG_EVENTS + 3})`));
  t.chat.line("/switch dev");
  const screen = t.screen();
  ok(screen.includes("-- #dev --"));
  ok(screen.includes(`-- 3 older lines not kept (${MAX_BACKLOG_EVENTS} per room) --`));
  ok(!screen.includes("<bob> n3\r"), "the oldest were dropped");
  ok(screen.includes("<bob> n4\r") && screen.includes(`<bob> n${MAX_BACKLOG_EVENTS + 3}\r`));
  deepEqual(t.reads, ["lobby", "dev"]);
  t.chat.line("/away lunch");
  deepEqual(t.said, ["dev: /away lunch"], "away is the server's in version 2");
});
