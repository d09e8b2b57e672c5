/**
 * Hostile input through the whole stack: control characters, bidi
 * overrides and terminal escapes in messages, names and room names; newlines
 * in names (log injection); path characters in room names; invalid UTF-8;
 * huge numbers; deeply nested JSON.
 *
 * @module
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { Hasher } from "../../lib/auth/hash.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { eventOf, type ServerFrame } from "../../lib/wire/protocol.ts";
import { renderEvent } from "../../lib/terminal/render.ts";
import { tempDir } from "../_helpers.ts";
import { startTestServer, TEST_SCRYPT_LOG_N } from "../_server.ts";
import { captureLogs } from "./_log_capture.ts";

/** Code point ranges that must never reach a terminal from the network:
 * C0, DEL and C1 controls, bidi and zero-width formatting, line separators. */
const UNSAFE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0x061c, 0x061c],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x206f],
  [0xfeff, 0xfeff],
];

/** Whether `text` holds a character from {@linkcode UNSAFE_RANGES}. */
function unsafeOnScreen(text: string): boolean {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (UNSAFE_RANGES.some(([low, high]) => cp >= low && cp <= high)) return true;
  }
  return false;
}

/** Hostile texts with control characters: escapes (CSI, OSC title and
 * clipboard, C1 CSI), bell, backspace, NUL, fake lines. The hub refuses them. */
const CONTROL_HOSTILE = [
  "\x1b[2J\x1b[H you have been logged out",
  "\x1b]0;pwned\x07 title",
  "\x1b]52;c;cm0gLXJmIH4=\x07 clipboard",
  "\u009b31m C1 CSI",
  "bell\x07 backspace\x08\x08 nul\x00 del\x7f",
  "line one\n[12:00] <admin> line two",
  "\r[12:00] <root> overwritten",
];

/** Hostile texts without control characters (bidi, isolates, line and
 * paragraph separators, zero-width): they are passed on as said, and the
 * client must show them harmless. */
const FORMAT_HOSTILE = [
  "invoice_\u202egnp.exe",
  "\u2066isolated\u2069 text",
  "para\u2028graph\u2029",
  "zero\u200bwidth\ufeff",
];

function codes(frames: ServerFrame[]): string[] {
  return frames.map((f) => f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : f.type);
}

function rendered(frame: ServerFrame, self: string): string[] {
  const event = eventOf(frame);
  ok(event, `${frame.type} is a chat event`);
  return renderEvent(event, { self, colour: false, timeZone: "UTC" });
}

/** Enough rate for every line a test sends. */
const UNLIMITED = { rateBurst: 1_000 };

Deno.test("messages with control characters are refused with a notice and reach nobody", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"], config: UNLIMITED });
  await using bob = await s.login("bob");
  await using alice = await s.login("alice");
  for (const text of CONTROL_HOSTILE) {
    await alice.send({ type: "say", text });
    await alice.send({ type: "say", text: `/me ${text}` });
  }
  await alice.send({ type: "say", text: "clean" });
  await bob.until((f) => f.type === "message" && f.text === "clean");
  await alice.until((f) => f.type === "message" && f.text === "clean");
  equal(bob.received.filter((f) => f.type === "message").length, 1);
  const refusals = alice.received.filter((f) =>
    f.type === "notice" && /control characters/.test(f.text)
  );
  equal(refusals.length, CONTROL_HOSTILE.length * 2);
});

Deno.test("hostile formatting characters reach others exactly as sent, inside one frame, and the client shows them harmless", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"], config: UNLIMITED });
  await using bob = await s.login("bob");
  await using alice = await s.login("alice");
  for (const [i, text] of FORMAT_HOSTILE.entries()) {
    await alice.send({ type: "say", text });
    const got = await bob.until((f) => f.type === "message" && f.from === "alice");
    equal(got.type === "message" && got.text, text, `message ${i}`);
    for (const line of rendered(got, "bob")) {
      ok(!unsafeOnScreen(line), `message ${i} renders as ${JSON.stringify(line)}`);
    }
  }
  // The client's sanitiser also neutralises what a hostile server might send.
  for (const [i, text] of CONTROL_HOSTILE.entries()) {
    const frame: ServerFrame = { type: "message", id: i, room: "lobby", from: "x", text, ts: 0 };
    for (const line of rendered(frame, "bob")) {
      ok(!unsafeOnScreen(line), `control text ${i} renders as ${JSON.stringify(line)}`);
    }
  }
  await bob.send({ type: "ping", id: 1 });
  await bob.until((f) => f.type === "pong");
  equal(bob.received.filter((f) => f.type === "message").length, FORMAT_HOSTILE.length);
  ok(!bob.received.some((f) => f.type === "bye"));
});

Deno.test("hostile text in /me, /msg, kick reasons, broadcasts and echoed command names is shown harmless", async () => {
  await using s = await startTestServer({
    users: ["bob", "mallory"],
    admins: ["root"],
    config: UNLIMITED,
  });
  await using bob = await s.login("bob");
  await using root = await s.login("root");
  await using mallory = await s.login("mallory");
  const evil = FORMAT_HOSTILE.join(" ");
  await root.send({ type: "say", text: `/me ${evil}` });
  await root.send({ type: "say", text: `/msg bob ${evil}` });
  await root.send({ type: "say", text: `/broadcast ${evil}` });
  await root.send({ type: "say", text: `/kick mallory ${evil}` });
  await bob.send({ type: "say", text: `/\u202e${evil}` }); // unknown command, name echoed
  await bob.send({ type: "say", text: `/msg \u202enobody hi` }); // target name echoed
  await bob.until((f) => f.type === "leave" && f.user === "mallory");
  await bob.send({ type: "ping", id: 1 });
  await bob.until((f) => f.type === "pong");
  const shown = bob.received.filter((f) => eventOf(f) !== undefined);
  ok(shown.length >= 6, `bob saw ${shown.length} events`);
  for (const frame of shown) {
    for (const line of rendered(frame, "bob")) {
      ok(!unsafeOnScreen(line), `${frame.type} renders as ${JSON.stringify(line)}`);
    }
  }
  const bye = (await mallory.untilClosed()).at(-1);
  equal(bye?.type === "bye" && bye.code, "kicked");
});

Deno.test("user names with control characters, bidi overrides, newlines, spaces or path characters cannot be created", async () => {
  await using dir = await tempDir();
  const store = await CredentialStore.open(join(dir.path, "credentials.json"), {
    hasher: new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } }),
  });
  for (
    const name of [
      "eve\n2026-01-01 [INF] banter·audit: Login admin",
      "eve\r",
      "\u202enimda",
      "ad\u200bmin",
      "\x1b[2Jeve",
      "eve bob",
      "../eve",
      "eve/../../x",
      ".eve",
      "",
      "e".repeat(33),
      "éve",
    ]
  ) {
    await rejects(store.add(name, "quiet lantern 42"), TypeError, JSON.stringify(name));
  }
  deepEqual(store.list().map((u) => u.name), ["admin"]);
});

Deno.test("a login name with newlines or escapes fails as invalid and is logged as one escaped line", async () => {
  await using logs = await captureLogs();
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  const forged =
    "eve\n2026-01-01 00:00:00.000 +00:00 [INF] banter·audit: Login admin from 10.0.0.1\x1b[2K";
  const answer = await c.login(forged, "whatever password");
  deepEqual(answer.type === "auth_failed" && [answer.reason, answer.message.includes("eve")], [
    "invalid",
    false,
  ]);
  const failed = logs.text().filter((line) => line.includes("Failed login"));
  equal(failed.length, 1);
  for (const line of [...logs.text(), ...logs.json()]) {
    equal(line.indexOf("\n"), line.length - 1, `one line: ${JSON.stringify(line)}`);
    ok(!line.includes("\x1b"), "no raw escape");
  }
});

Deno.test({
  name: "a login name cannot put bidi controls or line separators into the audit log",
  fn: async () => {
    await using logs = await captureLogs();
    await using s = await startTestServer({ users: ["alice"] });
    await using c = await s.client();
    await c.login(
      "\u202eadmin\u2028[INF] banter·audit: Login root from 10.0.0.1\u200b",
      "whatever password",
    );
    const lines = [...logs.text(), ...logs.json()];
    ok(lines.some((line) => line.includes("Failed login")));
    for (const line of lines) ok(!unsafeOnScreen(line.slice(0, -1)), JSON.stringify(line));
  },
});

Deno.test("room names with path characters, controls, bidi overrides or spaces are refused and create nothing", async () => {
  await using s = await startTestServer({ users: ["alice"], config: UNLIMITED });
  await using alice = await s.login("alice");
  const before = [...Deno.readDirSync(s.config.data)].map((e) => e.name).sort();
  const refused = [
    "../etc",
    "../../../../etc/passwd",
    "..",
    "a/b",
    "a\\b",
    "C:\\Windows",
    "%2e%2e%2fetc",
    "\u202eabc",
    "a\u200bb",
    "a\nb",
    "\x1b[2J",
    "lobby\x00x",
    "a b",
    "x".repeat(33),
  ];
  for (const [i, name] of refused.entries()) {
    await alice.send({ type: "say", text: `/join ${name}` });
    await alice.send({ type: "ping", id: i });
    await alice.until((f) => f.type === "pong" && f.id === i);
  }
  const notices = alice.received.filter((f) => f.type === "notice" && f.level === "error");
  equal(notices.length, refused.length, "one error notice per refused name");
  ok(!alice.received.some((f) => f.type === "room" && f.room !== "lobby"), "never left the lobby");
  await alice.send({ type: "say", text: "/join #Dev-Ops_1" });
  const room = await alice.until((f) => f.type === "room" && f.room !== "lobby");
  equal(room.type === "room" && room.room, "dev-ops_1");
  deepEqual([...Deno.readDirSync(s.config.data)].map((e) => e.name).sort(), before, "no new files");
});

Deno.test("invalid UTF-8 of every kind is refused with invalid_utf8", async () => {
  await using s = await startTestServer();
  const cases: Record<string, number[]> = {
    "overlong slash": [0xc0, 0xaf],
    "overlong NUL": [0xc0, 0x80],
    "encoded surrogate": [0xed, 0xa0, 0x80],
    "truncated sequence": [0xe2, 0x82],
    "beyond U+10FFFF": [0xf4, 0x90, 0x80, 0x80],
    "five-byte form": [0xf8, 0x88, 0x80, 0x80, 0x80],
    "lone continuation byte": [0x80],
    "0xFF": [0xff],
  };
  for (const [what, bytes] of Object.entries(cases)) {
    await using c = await s.client();
    const line = new TextEncoder().encode('{"type":"hello","version":1,"client":"');
    await c.sendRaw(new Uint8Array([...line, ...bytes, 0x22, 0x7d, 0x0a]));
    deepEqual(
      codes(await c.untilClosed()).slice(-2),
      ["error:invalid_utf8", "bye:protocol_error"],
      what,
    );
  }
});

Deno.test("huge, negative, fractional or mistyped numbers where integers are due are refused with invalid_field", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  for (
    const n of ["1e400", "-1e400", "9007199254740993", "1e300", "-1", "1.5", '"1"', "[1]", "null"]
  ) {
    await using alice = await s.login("alice");
    await alice.sendRaw(`{"type":"ping","id":${n}}\n`);
    deepEqual(codes(await alice.untilClosed()).slice(-2), [
      "error:invalid_field",
      "bye:protocol_error",
    ], n);
  }
  for (const version of ["1e400", '"1"']) {
    await using c = await s.client();
    await c.sendRaw(`{"type":"hello","version":${version}}\n`);
    deepEqual(codes(await c.untilClosed()).slice(-2), [
      "error:invalid_field",
      "bye:protocol_error",
    ], version);
  }
});

Deno.test("60,000 nested arrays or objects within the frame cap neither crash nor stall the server", async () => {
  await using s = await startTestServer({
    users: ["alice", "bob"],
    config: { maxFrameBytes: 1024 * 1024 },
  });
  await using bob = await s.login("bob");
  await using alice = await s.login("alice");
  const arrays = `${"[".repeat(60_000)}${"]".repeat(60_000)}`;
  const objects = `${'{"a":'.repeat(60_000)}1${"}".repeat(60_000)}`;
  await alice.sendRaw(`{"type":"say","text":"deep arrays","pad":${arrays}}\n`);
  await alice.sendRaw(`{"type":"say","text":"deep objects","pad":${objects}}\n`);
  await bob.until((f) => f.type === "message" && f.text === "deep arrays");
  await bob.until((f) => f.type === "message" && f.text === "deep objects");
  await alice.sendRaw(arrays + "\n");
  deepEqual(codes(await alice.untilClosed()).slice(-2), ["error:not_object", "bye:protocol_error"]);
  await bob.send({ type: "ping", id: 1 });
  await bob.until((f) => f.type === "pong");
});

// SQLite would read TEXT with a NUL back cut short ("I agree\0 - NOT" -> "I
// agree"), so such a message must never be stored: the hub refuses it.
Deno.test("a message with a NUL character is refused, never stored cut short", async () => {
  await using s = await startTestServer({ users: ["alice", "bob", "carol"] });
  await using bob = await s.login("bob");
  await using alice = await s.login("alice");
  await alice.send({ type: "say", text: "I agree\x00 - NOT" });
  const refused = await alice.until((f) => f.type === "notice" && f.level === "error");
  equal(refused.type === "notice" && /control characters/.test(refused.text), true);
  await alice.send({ type: "say", text: "after" });
  const live = await bob.until((f) => f.type === "message" && f.from === "alice");
  equal(live.type === "message" && live.text, "after");
  await using carol = await s.login("carol");
  const room = await carol.until((f) => f.type === "room");
  deepEqual(room.type === "room" && room.history.map((m) => m.text), ["after"]);
});
