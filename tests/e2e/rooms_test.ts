/**
 * Rooms over real TLS with protocol version 2: a junk room goes when its
 * only member parts, an account's eleventh new room within the hour is
 * refused, and /rooms answers with one bounded frame.
 *
 * @module
 */
import { deepEqual, equal } from "node:assert/strict";
import { ROOMS_CREATED_PER_HOUR } from "../../lib/chat/room_quota.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { startTestServer } from "../_server.ts";
import { loginV2 } from "./_v2_client.ts";

type Frame<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

function answerTo(id: string) {
  return (f: ServerFrame): f is Frame<"ack"> | Frame<"error"> =>
    (f.type === "ack" || f.type === "error") && f.id === id;
}

Deno.test("v2: join and part of junk rooms leaves no rooms; the eleventh new room in an hour is refused", async () => {
  await using s = await startTestServer({
    users: ["mallory"],
    config: { rateBurst: 1000, ratePerSecond: 100 },
  });
  const { client } = await loginV2(s.port, "mallory");
  await using _ = client;
  for (let i = 0; i < ROOMS_CREATED_PER_HOUR; i++) {
    await client.send({ type: "join", room: `junk${i}`, id: `j${i}` });
    equal((await client.until(answerTo(`j${i}`))).type, "ack");
    await client.send({ type: "part", room: `junk${i}`, id: `p${i}` });
    equal((await client.until(answerTo(`p${i}`))).type, "ack");
  }
  await client.send({ type: "join", room: "one-more", id: "x" });
  const refused = await client.until(answerTo("x"));
  deepEqual(refused.type === "error" ? [refused.code, refused.message] : [], [
    "refused",
    `Cannot create #one-more: you have created ${ROOMS_CREATED_PER_HOUR} rooms in the last hour, join an existing one or wait`,
  ]);
  await client.send({ type: "say", room: "lobby", text: "/rooms", id: "r" });
  const rooms = await client.until((f): f is Frame<"rooms"> => f.type === "rooms");
  deepEqual(rooms, {
    type: "rooms",
    rooms: [{ name: "lobby", topic: "", members: 1 }],
    id: "r",
  });
});
