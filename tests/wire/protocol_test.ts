import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { CLOSE_CODES } from "../../lib/chat/message.ts";
import { BYE_CODES, parseServerFrame, ProtocolError } from "../../lib/wire/protocol.ts";

const bye = (code: string) => JSON.stringify({ type: "bye", code, message: "Bye" });

Deno.test("parseServerFrame() accepts a bye with every chat close code and every session code", () => {
  for (const code of CLOSE_CODES) ok(BYE_CODES.includes(code), code);
  for (const code of ["denied", "locked", "timeout", "protocol_error", "busy"]) {
    ok(BYE_CODES.some((known) => known === code), code);
  }
  equal(new Set(BYE_CODES).size, BYE_CODES.length, "no code listed twice");
  for (const code of BYE_CODES) {
    deepEqual(parseServerFrame(bye(code)), { type: "bye", code, message: "Bye" });
  }
});

Deno.test("parseServerFrame() refuses a bye with an unknown code", () => {
  throws(
    () => parseServerFrame(bye("vanished")),
    (error) =>
      error instanceof ProtocolError && error.code === "invalid_field" &&
      error.message === 'Field "code" has an unknown value',
  );
});

Deno.test("encodeRoomEvent() marks a version 2 room frame truncated when it drops history to fit", async () => {
  const { encodeRoomEvent } = await import("../../lib/wire/protocol.ts");
  const history = Array.from({ length: 20 }, (_, i) => ({
    kind: "message" as const,
    id: i + 1,
    room: "lobby",
    from: "ann",
    text: "x".repeat(500),
    ts: 0,
  }));
  const base = { kind: "room" as const, room: "lobby", members: [], history, retentionDays: 30 };
  const v2 = JSON.parse(
    new TextDecoder().decode(encodeRoomEvent({ ...base, truncated: false }, 4096)),
  );
  equal(v2.truncated, true);
  ok(v2.history.length < 20);
  const v1 = JSON.parse(new TextDecoder().decode(encodeRoomEvent(base, 4096)));
  equal(v1.truncated, undefined, "version 1 frames gain no field");
});

Deno.test("parseServerFrame() reads a rooms answer's more count, absent when none were left out", () => {
  deepEqual(
    parseServerFrame(
      '{"type":"rooms","rooms":[{"name":"dev","topic":"","members":2}],"more":9800,"id":"r"}',
    ),
    { type: "rooms", rooms: [{ name: "dev", topic: "", members: 2 }], more: 9800, id: "r" },
  );
  deepEqual(parseServerFrame('{"type":"rooms","rooms":[]}'), { type: "rooms", rooms: [] });
  throws(() => parseServerFrame('{"type":"rooms","rooms":[],"more":"lots"}'), ProtocolError);
});
