/**
 * The real client in a pty speaking protocol version 2 with the real server
 * over TLS: many rooms in the status line, switching and read markers shared
 * with another session, /part, /away, resume after a restart, multi-line
 * paste, `//text`.
 */
import { equal, ok } from "node:assert/strict";
import { messageWith } from "../e2e/_frames.ts";
import { loginV2 } from "../e2e/_v2_client.ts";
import type { TestClient } from "../_helpers.ts";
import { spawnClientPty } from "../_pty.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";

/** alice's client in a pty, logging in to the server at `port` with the files in `dir`. */
function aliceInPty(dir: string, port: number) {
  return spawnClientPty(dir, port, [], { user: "alice", password: passwordOf("alice") });
}

/** The row above the input line. */
function statusRow(lines: string[]): string {
  const input = lines.findLastIndex((l) => l.trim() !== "");
  return (lines[input - 1] ?? "").trimEnd();
}

/** bob posts `text` in `room` and waits for its echo; returns its id. */
async function post(bob: TestClient, room: string, text: string): Promise<number> {
  await bob.send({ type: "say", room, text });
  const echo = await bob.until(messageWith(text));
  return echo.id;
}

function isRead(room: string) {
  return (f: ServerFrame): f is Extract<ServerFrame, { type: "read" }> =>
    f.type === "read" && f.room === room;
}

Deno.test("rooms not shown count in the status line; switching shows their lines and marks them read on the other session", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  const phone = await loginV2(s.port, "alice");
  await using _phone = phone.client;
  for (const room of ["dev", "ops"]) {
    await phone.client.send({ type: "join", room });
    await phone.client.until((f) => f.type === "room" && f.room === room);
  }
  const bob = await loginV2(s.port, "bob");
  await using _bob = bob.client;
  for (const room of ["dev", "ops"]) {
    await bob.client.send({ type: "join", room });
    await bob.client.until((f) => f.type === "room" && f.room === room);
  }
  await using pty = aliceInPty(s.dir, s.port);
  await pty.waitFor("[#lobby] alice> ");
  let last = 0;
  for (const n of [1, 2, 3]) last = await post(bob.client, "dev", `dev line ${n}`);
  const ops = await post(bob.client, "ops", "alice: ops needs you");
  await pty.waitUntil(
    (l) => statusRow(l) === "[#lobby] alice | Act: #dev(3) #ops(1!) | 1:#lobby 2:#dev 3:#ops",
    "the counts of #dev and #ops",
  );
  ok(!pty.text().includes("dev line 1"), "lines of a room not shown are not shown");

  await pty.write("/switch dev\r");
  await pty.waitFor("-- #dev --");
  await pty.waitFor("<bob> dev line 3");
  await pty.waitUntil(
    (l) => statusRow(l) === "[#dev] alice | Act: #ops(1!) | 1:#lobby 2:#dev 3:#ops",
    "#dev shown",
  );
  const read = await phone.client.until(isRead("dev"));
  equal(read.last_read, last, "switching marked #dev read for the other session");

  // Read on the other device: the count here goes.
  await phone.client.send({ type: "read", room: "ops", last_read: ops });
  await pty.waitUntil(
    (l) => statusRow(l) === "[#dev] alice | 1:#lobby 2:#dev 3:#ops",
    "#ops read elsewhere",
  );

  await pty.write("\x0e"); // Ctrl-N: the next room, #ops
  await pty.waitUntil((l) => statusRow(l).startsWith("[#ops] alice | 1:"), "Ctrl-N to #ops");
  await pty.waitFor(">> <bob> alice: ops needs you");
  await pty.write("\x1b1"); // Alt-1: the first room, #lobby
  await pty.waitUntil((l) => statusRow(l).startsWith("[#lobby] alice | 1:"), "Alt-1 to #lobby");
  await pty.write("\x10"); // Ctrl-P: the previous room wraps to #ops
  await pty.waitUntil((l) => statusRow(l).startsWith("[#ops] alice | 1:"), "Ctrl-P to #ops");
  await pty.write("hello ops\r");
  const said = await bob.client.until(messageWith("hello ops"));
  equal(said.room, "ops", "a line goes to the room shown");
  await pty.write("end\r");
  equal(await pty.status(), 0);
});

Deno.test("/join adds a room and shows it; /part leaves it on the server, for the next login too", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  {
    await using pty = aliceInPty(s.dir, s.port);
    await pty.waitFor("[#lobby] alice> ");
    await pty.write("/join dev\r");
    await pty.waitFor("[#dev] alice> ");
    await pty.write("/part\r");
    await pty.waitFor("alice left #dev");
    await pty.waitFor("[#lobby] alice> ");
    await pty.write("/switch dev\r");
    await pty.waitFor("Cannot switch to #dev: you are not in it");
    await pty.write("end\r");
    equal(await pty.status(), 0);
  }
  const again = await loginV2(s.port, "alice");
  await using _again = again.client;
  equal([...again.rooms.keys()].join(","), "lobby", "the part persisted");
});

Deno.test("/away TEXT goes to the server, and the status line shows it from presence", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  const bob = await loginV2(s.port, "bob");
  await using _bob = bob.client;
  await using pty = aliceInPty(s.dir, s.port);
  await pty.waitFor("[#lobby] alice> ");
  await pty.write("/away lunch\r");
  await bob.client.until((f) => f.type === "presence" && f.user === "alice" && f.away === "lunch");
  await pty.waitUntil((l) => statusRow(l) === "[#lobby] alice [away]", "away shown");
  await pty.write("/away off\r");
  await bob.client.until((f) => f.type === "presence" && f.user === "alice" && !f.away);
  await pty.waitUntil((l) => statusRow(l) === "[#lobby] alice", "back");
});

Deno.test("a bracketed paste of 3 lines arrives as one message with newlines; //text sends /text", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  const bob = await loginV2(s.port, "bob");
  await using _bob = bob.client;
  await using pty = aliceInPty(s.dir, s.port);
  await pty.waitFor("[#lobby] alice> ");
  await pty.write("\x1b[200~one\ntwo\nthree\x1b[201~");
  const pasted = await bob.client.until((f) => f.type === "message" && f.from === "alice");
  equal(pasted.type === "message" && pasted.text, "one\ntwo\nthree");
  await pty.write("//shrug\r");
  await bob.client.until(messageWith("/shrug"));
  await pty.waitFor("<alice> /shrug");
});

Deno.test("after a server restart the client resumes: same rooms, only the missed lines, counts kept", async () => {
  const first = await startTestServer({ users: ["alice", "bob"] });
  const port = first.port;
  {
    const bob = await loginV2(port, "bob");
    await using _bob = bob.client;
    await bob.client.send({ type: "join", room: "dev" });
    await bob.client.until((f) => f.type === "room" && f.room === "dev");
    await using pty = aliceInPty(first.dir, port);
    await pty.waitFor("[#lobby] alice> ");
    await pty.write("/join dev\r");
    await pty.waitFor("[#dev] alice> ");
    await pty.write("/switch lobby\r");
    await pty.waitFor("[#lobby] alice> ");
    await post(bob.client, "lobby", "seen before");
    await post(bob.client, "dev", "dev before");
    await pty.waitFor("<bob> seen before");
    await pty.waitUntil(
      (l) => statusRow(l) === "[#lobby] alice | Act: #dev(1) | 1:#lobby 2:#dev",
      "#dev(1)",
    );
    await bob.client[Symbol.asyncDispose]();
    await first.stop();
    await pty.waitFor("(disconnected) [#lobby] alice> ");
    await using second = await startTestServer({ dir: first.dir, config: { port } });
    const bob2 = await loginV2(second.port, "bob");
    await using _bob2 = bob2.client;
    await post(bob2.client, "lobby", "missed meanwhile");
    await post(bob2.client, "dev", "dev meanwhile");
    await pty.waitFor(/-- Reconnected after \d+s/, 30_000);
    await pty.waitFor("<bob> missed meanwhile");
    await pty.waitUntil(
      (l) => statusRow(l) === "[#lobby] alice | Act: #dev(2) | 1:#lobby 2:#dev",
      "#dev's count after the reconnect",
    );
    const count = (text: string) => pty.output().split(text).length - 1;
    equal(count("seen before"), 1, "a line seen before the restart is not shown again");
    equal(count("missed meanwhile"), 1);
    await pty.write("/switch dev\r");
    await pty.waitFor("<bob> dev meanwhile");
    equal(count("dev before"), 1, "each line of #dev once");
    equal(count("dev meanwhile"), 1);
    await pty.write("end\r");
    equal(await pty.status(), 0);
  }
  await Deno.remove(first.dir, { recursive: true });
});

Deno.test("DMs sent while you were offline are shown after login, once, and marked read", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  const bob = await loginV2(s.port, "bob");
  await using _bob = bob.client;
  for (const text of ["first while away", "second while away"]) {
    await bob.client.send({ type: "dm", to: "alice", text, id: text });
    await bob.client.until((f) => f.type === "ack" && f.id === text);
  }
  {
    await using pty = aliceInPty(s.dir, s.port);
    await pty.waitFor("-- 2 unread DMs with bob --");
    await pty.waitFor("[DM bob → alice] second while away");
    await bob.client.send({ type: "dm", to: "alice", text: "live one" });
    await pty.waitFor("[DM bob → alice] live one");
    await pty.write("end\r");
    equal(await pty.status(), 0);
    equal(pty.output().split("first while away").length - 1, 1, "shown once");
  }
  const again = await loginV2(s.port, "alice");
  await using _again = again.client;
  equal(again.conversations.conversations.find((c) => c.with === "bob")?.unread, 0);
});
