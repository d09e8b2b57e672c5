import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { messageWith, presenceOf, roomFrame } from "./_frames.ts";
import { loginV2 } from "./_v2_client.ts";

/** The frames and fields PROTOCOL.md version 1 (sections 5 and 8) lists. */
const V1_FIELDS: Record<string, readonly string[]> = {
  hello: ["type", "version", "server", "versions"], // unknown fields may be added within v1
  welcome: ["type", "user", "role"],
  room: ["type", "room", "members", "history", "retention_days"],
  message: ["type", "id", "room", "from", "text", "ts", "action", "bot"],
  dm: ["type", "id", "from", "to", "text", "ts"],
  join: ["type", "room", "user", "ts"],
  leave: ["type", "room", "user", "ts", "reason"],
  notice: ["type", "level", "text", "ts"],
  bye: ["type", "code", "message"],
  ping: ["type", "id"],
  pong: ["type", "id"],
  error: ["type", "code", "message"],
  auth: ["type", "attempts_left"],
};

function assertV1(frames: readonly ServerFrame[]): void {
  for (const frame of frames) {
    const allowed = V1_FIELDS[frame.type];
    ok(allowed !== undefined, `v1 has no frame ${frame.type}`);
    for (const key of Object.keys(frame)) {
      ok(allowed.includes(key), `v1 ${frame.type} has no field ${key}`);
    }
  }
}

Deno.test("a v1 client gets only v1 frames and fields while a v2 user does v2 things", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using alice = await s.client();
  const hello = await alice.next();
  equal(hello?.type === "hello" && hello.version, 1);
  await alice.login("alice", passwordOf("alice"));
  const lobby = await alice.until(roomFrame("lobby"));
  deepEqual(lobby.members, ["alice"]);
  const bob = await loginV2(s.port, "bob");
  await using _b = bob.client;
  await alice.until(presenceOf("join", "bob"));
  await bob.client.send({ type: "join", room: "dev" });
  await bob.client.send({ type: "topic", room: "lobby", text: "be nice" });
  await bob.client.send({ type: "away", text: "lunch" });
  await bob.client.send({ type: "say", room: "dev", text: "not for the lobby" });
  await bob.client.send({ type: "say", room: "lobby", text: "line one\nline two" });
  await bob.client.send({ type: "dm", to: "alice", text: "a\nb" });
  await bob.client.send({ type: "say", room: "lobby", text: "last", id: "x" });
  await alice.until(messageWith("last"));
  await alice.send({ type: "say", text: "/who", id: 5 }); // v1 ignores the id
  const who = await alice.until((f) => f.type === "notice");
  equal(who.type === "notice" && who.text, "In #lobby (2): alice, bob (away)");
  await alice.send({ type: "say", text: "end" });
  const rest = await alice.untilClosed();
  const frames = [...alice.received, ...rest];
  assertV1(frames);
  const texts = frames.flatMap((f) => f.type === "message" || f.type === "dm" ? [f.text] : []);
  deepEqual(texts, ["line one \u23ce line two", "a \u23ce b", "last"]);
  const notices = frames.flatMap((f) => f.type === "notice" ? [f.text] : []);
  ok(notices.includes("bob set the topic of #lobby: be nice"), "the topic change, as a notice");
  ok(!frames.some((f) => f.type === "message" && f.room === "dev"));
});

Deno.test("a v1 client's /join moves its view: the old room sees leave, the new one join", async () => {
  await using s = await startTestServer({ users: ["alice", "carol"] });
  await using carol = await s.login("carol");
  await carol.until(roomFrame("lobby"));
  await using alice = await s.login("alice");
  await carol.until(presenceOf("join", "alice"));
  await alice.send({ type: "say", text: "/join dev" });
  const dev = await alice.until(roomFrame("dev"));
  deepEqual([dev.members, dev.history], [["alice"], []]);
  const leave = await carol.until(presenceOf("leave", "alice"));
  equal(leave.reason, undefined);
  assertV1([...alice.received, ...carol.received]);
});

Deno.test("a v1 client sending a v2 frame gets unknown_type, as version 1 says", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await s.login("alice");
  await alice.sendRaw('{"type":"join","room":"dev"}\n');
  const frames = await alice.untilClosed();
  deepEqual(
    frames.filter((f) => f.type === "error" || f.type === "bye").map((f) =>
      f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : ""
    ),
    ["error:unknown_type", "bye:protocol_error"],
  );
});
