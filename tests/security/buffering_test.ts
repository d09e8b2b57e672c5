/**
 * irctest-style buffering over a real TLS connection: frames split at every
 * byte, many frames in one write, frames at the size cap, and a line that
 * never ends.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { passwordOf, startTestServer } from "../_server.ts";

const encoder = new TextEncoder();
const frameLine = (frame: unknown) => JSON.stringify(frame) + "\n";

function codes(frames: ServerFrame[]): string[] {
  return frames.map((f) => f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : f.type);
}

Deno.test("a login and a message with multi-byte characters sent one byte per write are understood", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  const text = "héllo 𝄞 wörld — ☃";
  const bytes = encoder.encode(
    frameLine({ type: "hello", version: 1 }) +
      frameLine({ type: "login", username: "alice", password: passwordOf("alice") }) +
      frameLine({ type: "say", text }),
  );
  for (const byte of bytes) await c.sendRaw(new Uint8Array([byte]));
  const said = await c.until((f) => f.type === "message");
  equal(said.type === "message" && said.text, text);
  deepEqual(codes(c.received).slice(0, 4), ["hello", "auth", "welcome", "room"]);
});

Deno.test("a whole session in one write is answered frame by frame, in order", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  await c.sendRaw(
    frameLine({ type: "hello", version: 1 }) +
      frameLine({ type: "login", username: "alice", password: passwordOf("alice") }) +
      Array.from({ length: 5 }, (_, i) => frameLine({ type: "say", text: `line ${i}` })).join("") +
      frameLine({ type: "ping", id: 42 }) +
      frameLine({ type: "say", text: "end" }),
  );
  const frames = await c.untilClosed();
  const all = [...c.received];
  deepEqual(
    all.filter((f) => f.type === "message").map((f) => f.type === "message" && f.text),
    ["line 0", "line 1", "line 2", "line 3", "line 4"],
  );
  deepEqual(codes(all.filter((f) => f.type !== "message")), [
    "hello",
    "auth",
    "welcome",
    "room",
    "pong",
    "bye:end",
  ]);
  ok(frames.length > 0);
});

Deno.test("CRLF line endings are accepted", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using c = await s.client();
  await c.sendRaw(
    '{"type":"hello","version":1}\r\n' +
      JSON.stringify({ type: "login", username: "alice", password: passwordOf("alice") }) + "\r\n",
  );
  await c.until((f) => f.type === "welcome");
});

Deno.test("a frame of exactly the cap is taken and one byte more is refused", async () => {
  const cap = 1024;
  await using s = await startTestServer({ users: ["alice"], config: { maxFrameBytes: cap } });
  await using alice = await s.login("alice");
  const empty = JSON.stringify({ type: "say", text: "" }).length;
  const frameOf = (bytes: number) =>
    JSON.stringify({ type: "say", text: "x".repeat(bytes - empty) });
  equal(encoder.encode(frameOf(cap)).length, cap);
  await alice.sendRaw(frameOf(cap) + "\n");
  const said = await alice.until((f) => f.type === "message");
  equal(said.type === "message" && said.text.length, cap - empty);
  await alice.sendRaw(frameOf(cap + 1) + "\n");
  deepEqual(codes(await alice.untilClosed()).slice(-2), [
    "error:frame_too_long",
    "bye:protocol_error",
  ]);
});

Deno.test("a 1 MiB line with no newline gets frame_too_long and a goodbye, the sender is closed, and others carry on", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  await using alice = await s.login("alice");
  const piece = new Uint8Array(16 * 1024).fill(0x61); // "aaaa...": never a newline
  let sent = 0;
  const MiB = 1024 * 1024;
  // Write until the whole MiB is out or the server has hung up.
  while (sent < MiB) {
    try {
      await alice.sendRaw(piece);
    } catch {
      break;
    }
    sent += piece.length;
  }
  const frames = await alice.untilClosed(10_000);
  deepEqual(codes(frames).slice(-2), ["error:frame_too_long", "bye:protocol_error"]);
  equal(s.server.sessions.size, 1, "alice's session is gone");
  const leave = await bob.until((f) => f.type === "leave" && f.user === "alice");
  equal(leave.type === "leave" && leave.reason, "protocol_error");
  await bob.send({ type: "say", text: "still fine" });
  await bob.until((f) => f.type === "message" && f.text === "still fine");
});

Deno.test("bytes after the last newline are dropped when the peer leaves, and never said", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  const alice = await s.login("alice");
  await alice.sendRaw('{"type":"say","text":"half a fra');
  await alice[Symbol.asyncDispose]();
  const leave = await bob.until((f) => f.type === "leave" && f.user === "alice");
  ok(leave);
  ok(!bob.received.some((f) => f.type === "message" && f.from === "alice"));
});

Deno.test({
  name:
    "frames sent in the same write before a bad frame are all handled before the connection closes",
  fn: async () => {
    await using s = await startTestServer({ users: ["alice", "bob"] });
    await using bob = await s.login("bob");
    await using alice = await s.client();
    const good = encoder.encode(
      frameLine({ type: "hello", version: 1 }) +
        frameLine({ type: "login", username: "alice", password: passwordOf("alice") }) +
        frameLine({ type: "say", text: "last words" }),
    );
    // An overlong "/" then a newline: not UTF-8, so the decoder itself fails.
    await alice.sendRaw(new Uint8Array([...good, 0xc0, 0xaf, 0x0a]));
    const frames = await alice.untilClosed();
    deepEqual(codes(frames).filter((c) => c !== "room" && c !== "message"), [
      "hello",
      "auth",
      "welcome",
      "error:invalid_utf8",
      "bye:protocol_error",
    ]);
    await bob.until((f) => f.type === "message" && f.text === "last words");
  },
});
