/**
 * The real client in a real pseudo-terminal against the real server over
 * TLS, with the screen read back through a terminal emulator.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { messageWith } from "../e2e/_frames.ts";
import { spawnClientPty } from "../_pty.ts";
import { passwordOf, startTestServer } from "../_server.ts";

const COLS = 100;
const ROWS = 30;

/** alice logged in through the client in a pty, bob as a protocol client. */
async function aliceAndBob(args: string[] = []) {
  const s = await startTestServer({ users: ["alice", "bob", "carol"] });
  const bob = await s.login("bob");
  const pty = spawnClientPty(s.dir, s.port, args, { user: "alice", password: passwordOf("alice") });
  await pty.waitFor("[#lobby] alice> ");
  return {
    s,
    bob,
    pty,
    async [Symbol.asyncDispose]() {
      await pty[Symbol.asyncDispose]();
      await bob[Symbol.asyncDispose]();
      await s[Symbol.asyncDispose]();
    },
  };
}

/** The last row with text: the input line. */
function inputRow(lines: string[]): string {
  return (lines.findLast((l) => l.trim() !== "") ?? "").trimEnd();
}

Deno.test("after login the client shows a prompt [#room] nick> with a status line above it", async () => {
  await using t = await aliceAndBob();
  const lines = t.pty.lines();
  const at = lines.findLastIndex((l) => l.startsWith("[#lobby] alice> "));
  equal(lines[at - 1]?.trimEnd(), "[#lobby] alice");
  deepEqual(t.pty.cursor(), { x: "[#lobby] alice> ".length, y: at });
  await t.pty.write("half");
  await t.pty.waitFor("alice> half");
  await t.bob.send({ type: "say", text: "hello alice" });
  // The screen settles once the line is printed and the input redrawn under
  // it; a client that lost the typed text never gets there.
  await t.pty.waitUntil(
    (l) => l.some((x) => x.includes("<bob> hello alice")) && inputRow(l) === "[#lobby] alice> half",
    "bob's line above the typed text that survives",
  );
  const after = t.pty.lines();
  const row = after.findIndex((l) => l.includes("<bob> hello alice"));
  equal(after[row + 1]?.trimEnd(), "[#lobby] alice", "the status line moved below the new line");
  await t.pty.write("\x15end\r");
  equal(await t.pty.status(), 0);
});

Deno.test("Ctrl-C or Ctrl-D at Username >> quits with status 0 and sends no login", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  for (const key of ["\x03", "\x04"]) {
    await using pty = spawnClientPty(s.dir, s.port);
    await pty.waitFor("Username >> ");
    await pty.write(key);
    equal(await pty.status(), 0, JSON.stringify(key));
    ok(!/attempts left|Login needs|Wrong/.test(pty.text()), pty.text());
  }
  // No attempt was used: alice still logs in at the first try.
  await using alice = await s.login("alice");
  ok(alice.received.some((f) => f.type === "welcome"));
});

Deno.test("lines that mention you are marked, DMs are marked, and --bell rings for both", async () => {
  await using t = await aliceAndBob(["--bell"]);
  const before = t.pty.output().length;
  await t.bob.send({ type: "say", text: "alice: lunch?" });
  await t.pty.waitFor(">> <bob> alice: lunch?");
  await t.bob.send({ type: "say", text: "/msg alice psst" });
  await t.pty.waitFor("[DM bob → alice] psst");
  const bells = [...t.pty.output().slice(before)].filter((c) => c === "\x07").length;
  equal(bells, 2);
  await t.bob.send({ type: "say", text: "no mention here" });
  await t.pty.waitFor("<bob> no mention here");
  ok(!t.pty.text().includes(">> <bob> no mention"));
});

Deno.test("without --bell a focused terminal gets no bell, an unfocused one does", async () => {
  await using t = await aliceAndBob();
  const start = t.pty.output().length;
  await t.bob.send({ type: "say", text: "alice: one" });
  await t.pty.waitFor(">> <bob> alice: one");
  equal([...t.pty.output().slice(start)].filter((c) => c === "\x07").length, 0);
  await t.pty.write("\x1b[Oq"); // the terminal reports focus lost, then a key
  await t.pty.waitFor("[#lobby] alice> q");
  await t.bob.send({ type: "say", text: "alice: two" });
  await t.pty.waitFor(">> <bob> alice: two");
  equal([...t.pty.output().slice(start)].filter((c) => c === "\x07").length, 1);
});

Deno.test("Tab completes nicks with ': ' at line start, /commands and #rooms, cycling", async () => {
  await using t = await aliceAndBob();
  await using _carol = await t.s.login("carol");
  await t.pty.waitFor("carol is online");
  await t.pty.write("\t"); // nothing to complete
  await t.pty.write("b\t");
  await t.pty.waitUntil((l) => inputRow(l) === "[#lobby] alice> bob:", "bob completed");
  await t.pty.write("\x15c\t");
  await t.pty.waitFor("[#lobby] alice> carol: ");
  await t.pty.write("hi a\t");
  await t.pty.waitFor("[#lobby] alice> carol: hi alice ");
  await t.pty.write("\x15/jo\t");
  await t.pty.waitFor("[#lobby] alice> /join ");
  await t.pty.write("#lo\t");
  await t.pty.waitFor("[#lobby] alice> /join #lobby ");
  await t.pty.write("\x15/b\t");
  await t.pty.waitFor("[#lobby] alice> /ban ");
  await t.pty.write("\t");
  await t.pty.waitFor("[#lobby] alice> /broadcast ");
  await t.pty.write("\t");
  await t.pty.waitFor("[#lobby] alice> /ban ");
});

Deno.test("a resize redraws at once and leaves no stale piece of the input line", async () => {
  await using t = await aliceAndBob();
  await t.pty.write("x".repeat(150));
  await t.pty.waitFor("<" + "x".repeat(COLS - "[#lobby] alice> ".length - 2));
  await t.pty.resize(60, 20);
  await t.pty.waitUntil(
    (lines) => inputRow(lines) === "[#lobby] alice> <" + "x".repeat(60 - 16 - 2),
    "the input redrawn at 60 columns",
  );
  const lines = t.pty.lines();
  ok(lines.every((l) => l.length <= 60), lines.join("\n"));
  const input = lines.findLastIndex((l) => l.trim() !== "");
  equal(lines[input - 1]?.trimEnd(), "[#lobby] alice");
  equal(lines.filter((l) => l.includes("xxxxx")).length, 1, "one input row, nothing stale");
  await t.pty.write("\x01");
  await t.pty.waitFor("[#lobby] alice> " + "x".repeat(60 - 16 - 2) + ">");
});

Deno.test("a long incoming line wraps under its text, never into column 1", async () => {
  await using t = await aliceAndBob();
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
  await t.bob.send({ type: "say", text: words });
  await t.pty.waitFor("word39");
  const lines = t.pty.lines();
  const first = lines.findIndex((l) => l.includes("<bob> word0"));
  const indent = lines[first]?.indexOf("word0") ?? 0;
  const last = lines.findIndex((l) => l.includes("word39"));
  ok(last > first);
  for (const row of lines.slice(first + 1, last + 1)) {
    equal(row.length - row.trimStart().length, indent, row);
  }
});

Deno.test("emoji ZWJ sequences and Persian ZWNJ reach the screen whole, bidi overrides do not", async () => {
  await using t = await aliceAndBob();
  const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
  const persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645";
  await t.bob.send({ type: "say", text: `${family} ${persian} a\u202eb` });
  await t.pty.waitFor("<bob> ");
  await t.pty.waitUntil((l) => l.some((row) => row.includes("ab")), "the message");
  const raw = t.pty.output();
  ok(raw.includes(family), "the ZWJ sequence is written whole");
  ok(raw.includes(persian), "the ZWNJ stays inside the word");
  ok(!raw.includes("\u202e"), "no bidi override");
});

Deno.test("history shown on entering a room sits between -- history -- and -- now --", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  await bob.send({ type: "say", text: "said before alice came" });
  await bob.until(messageWith("said before alice came"));
  await using pty = spawnClientPty(s.dir, s.port, [], {
    user: "alice",
    password: passwordOf("alice"),
  });
  await pty.waitFor("-- now --");
  const lines = pty.lines();
  const start = lines.findIndex((l) => l.trimEnd() === "-- history --");
  ok(start !== -1, lines.join("\n"));
  ok(lines[start + 1]?.includes("<bob> said before alice came"));
  equal(lines[start + 2]?.trimEnd(), "-- now --");
});

Deno.test("/help CMD explains one command, Ctrl-L redraws, Ctrl-R finds input", async () => {
  await using t = await aliceAndBob();
  await t.pty.write("shrug\r");
  await t.pty.waitFor("<alice> shrug");
  await t.pty.write("/help join\r");
  await t.pty.waitFor(/-- \/join ROOM — /);
  ok(!t.pty.text().includes("/who —"), "only the one command");
  await t.pty.write("/help nosuch\r");
  await t.pty.waitFor("No command /nosuch");
  await t.pty.write("abc\x0c");
  await t.pty.waitUntil(
    (lines) => lines[lines.length - 1] === "" && inputRow(lines) === "[#lobby] alice> abc",
    "the redrawn screen",
  );
  await t.pty.write("\x15\x12shr");
  await t.pty.waitFor("(reverse-i-search)'shr': shrug");
  await t.pty.write("\x1b[C"); // Right: take it for editing
  await t.pty.waitFor("[#lobby] alice> shrug");
});

Deno.test("a bracketed paste of 3 lines is one message (a version 1 reader sees it on one line); 7 lines ask first", async () => {
  await using t = await aliceAndBob();
  await t.pty.write("\x1b[200~one\ntwo\nthree\x1b[201~");
  await t.bob.until(messageWith("one \u23ce two \u23ce three"));
  await t.pty.waitUntil((lines) => {
    const at = lines.findIndex((l) => l.endsWith("<alice> one"));
    const indent = " ".repeat(lines[at]?.indexOf("one") ?? 0);
    return at !== -1 && lines[at + 1] === indent + "two" && lines[at + 2] === indent + "three";
  }, "the three lines under the text");
  await t.pty.write(
    "\x1b[200~" + Array.from({ length: 7 }, (_, i) => `l${i}`).join("\n") + "\x1b[201~",
  );
  await t.pty.waitFor("Send 7 pasted lines as one message? [y/N] ");
  await t.pty.write("n\r");
  await t.pty.waitFor("-- Paste not sent");
});

Deno.test("an over-long line is refused with its length and kept in the input", async () => {
  await using t = await aliceAndBob();
  await t.pty.write("y".repeat(4100) + "\r");
  await t.pty.waitFor("-- Line too long: 4100 characters, the server takes 4096; not sent");
  await t.pty.waitFor("[#lobby] alice> <yyy");
});

Deno.test("one incoming line redraws with a bounded number of bytes", async () => {
  await using t = await aliceAndBob();
  await t.pty.write("z".repeat(500));
  await t.pty.waitFor("zzz");
  await t.bob.send({ type: "say", text: "ping" });
  const before = t.pty.bytes();
  await t.pty.waitFor("<bob> ping");
  const cost = t.pty.bytes() - before;
  // The line, the status row, one input row scrolled to 100 columns, escapes.
  ok(cost < 30 + 40 + 2 * COLS + 40, `${cost} bytes for one line`);
  equal(ROWS, 30);
});

Deno.test("a reconnect shows how long it was away; a line typed meanwhile is pending, then sent once", async () => {
  const first = await startTestServer({ users: ["alice", "bob"] });
  const port = first.port;
  await using pty = spawnClientPty(first.dir, port, [], {
    user: "alice",
    password: passwordOf("alice"),
  });
  await pty.waitFor("[#lobby] alice> ");
  await first.stop();
  await pty.waitFor("(disconnected) [#lobby] alice> ");
  await pty.write("typed while away\r");
  await pty.waitFor("-- pending (sent once reconnected): typed while away");
  await pty.waitFor("[#lobby] alice [disconnected] [1 pending]");
  await using _second = await startTestServer({ dir: first.dir, config: { port } });
  await pty.waitFor(/-- Reconnected after \d+s; 1 line typed meanwhile sent late/, 30_000);
  await pty.waitFor("<alice> typed while away"); // the server's echo
  await pty.waitUntil((l) => inputRow(l) === "[#lobby] alice>", "the prompt connected again");
  await pty.write("end\r");
  equal(await pty.status(), 0);
  const copies = pty.text().split("<alice> typed while away").length - 1;
  equal(copies, 1, "sent once");
  await Deno.remove(first.dir, { recursive: true });
});
