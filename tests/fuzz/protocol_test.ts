/**
 * Property-based tests of the protocol parsers (lib/wire/protocol.ts): untrusted
 * lines become typed frames exactly as docs/PROTOCOL.md section 4 says, or
 * a ProtocolError, never anything else.
 *
 * @module
 */
import { deepEqual, equal, fail, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  BYE_CODES,
  encodeFrame,
  parseClientFrame,
  parseServerFrame,
  ProtocolError,
  type ServerFrame,
} from "../../lib/wire/protocol.ts";
import { anyString, clientFrame, clientLine, fieldValue, frameLikeObject } from "./_arbitraries.ts";
import { modelClientFrame } from "./_model.ts";
import { fuzzParameters } from "./_runs.ts";

/** Error messages go to the peer: short, and never the peer's values. */
const MAX_ERROR_MESSAGE = 120;

function outcome(line: string) {
  try {
    return { ok: parseClientFrame(line) };
  } catch (error) {
    if (!(error instanceof ProtocolError)) {
      fail(
        `parseClientFrame threw ${error instanceof Error ? error.name : typeof error}: ${error}`,
      );
    }
    ok(error.message.length <= MAX_ERROR_MESSAGE, `long error message: ${error.message}`);
    return { error: error.code };
  }
}

Deno.test("fuzz: parseClientFrame() returns exactly the frame PROTOCOL.md describes, or the documented error code", () => {
  fc.assert(
    fc.property(clientLine, (line) => {
      deepEqual(outcome(line), modelClientFrame(line));
    }),
    fuzzParameters(),
  );
});

Deno.test("fuzz: parseClientFrame() keeps only known fields of frame-like objects", () => {
  fc.assert(
    fc.property(frameLikeObject, (o) => {
      const line = JSON.stringify(o);
      const got = outcome(line);
      deepEqual(got, modelClientFrame(line));
      if ("ok" in got && got.ok) {
        // Nothing unknown rides along into the server.
        const allowed = ["type", "version", "client", "username", "password", "text", "id"];
        ok(Object.keys(got.ok).every((k) => allowed.includes(k)));
        equal(Object.getPrototypeOf(got.ok), Object.prototype);
      }
    }),
    fuzzParameters(),
  );
});

Deno.test("fuzz: every valid client frame survives encodeFrame() and parseClientFrame() unchanged", () => {
  fc.assert(
    fc.property(clientFrame, (frame) => {
      const bytes = encodeFrame(frame);
      const text = new TextDecoder().decode(bytes);
      equal(text.indexOf("\n"), text.length - 1, "exactly one newline, at the end");
      deepEqual(parseClientFrame(text.slice(0, -1)), frame);
    }),
    fuzzParameters(),
  );
});

const serverType = fc.constantFrom(
  "hello",
  "auth",
  "auth_failed",
  "welcome",
  "error",
  "bye",
  "message",
  "dm",
  "join",
  "leave",
  "notice",
  "room",
  "ping",
  "pong",
  "sudo",
);

/** An object shaped like a server frame (the client's untrusted input). */
const serverLike = fc.record({
  type: serverType,
  version: fieldValue,
  server: fieldValue,
  attempts_left: fc.oneof(fc.nat(3), fieldValue),
  reason: fc.oneof(fc.constantFrom("invalid", "locked"), fieldValue),
  retry_after_ms: fc.oneof(fc.nat(), fieldValue),
  message: fieldValue,
  user: fieldValue,
  role: fieldValue,
  code: fc.oneof(fc.constantFrom(...BYE_CODES, "nope"), fieldValue),
  id: fc.oneof(fc.nat(), fieldValue),
  room: fc.oneof(anyString(8), fieldValue),
  from: fc.oneof(anyString(8), fieldValue),
  to: anyString(8),
  text: fc.oneof(anyString(8), fieldValue),
  ts: fc.oneof(fc.nat(), fieldValue),
  action: fc.oneof(fc.boolean(), fieldValue),
  bot: fc.oneof(fc.boolean(), fieldValue),
  level: fc.oneof(fc.constantFrom("info", "warn", "error"), fieldValue),
  members: fc.oneof(fc.array(anyString(8), { maxLength: 4 }), fieldValue),
  history: fc.oneof(
    fc.array(
      fc.record({
        id: fc.nat(),
        room: anyString(4),
        from: anyString(4),
        text: anyString(8),
        ts: fc.nat(),
      }),
      { maxLength: 3 },
    ),
    fieldValue,
  ),
  retention_days: fc.oneof(fc.nat(), fieldValue),
}, { requiredKeys: ["type"] });

Deno.test("fuzz: parseServerFrame() gives a frame that re-encodes to itself, or a ProtocolError", () => {
  fc.assert(
    fc.property(fc.oneof(serverLike.map((o) => JSON.stringify(o)), clientLine), (line) => {
      let frame: ServerFrame;
      try {
        frame = parseServerFrame(line);
      } catch (error) {
        ok(error instanceof ProtocolError, `threw ${error}`);
        return;
      }
      const again = new TextDecoder().decode(encodeFrame(frame)).slice(0, -1);
      deepEqual(parseServerFrame(again), JSON.parse(again));
    }),
    fuzzParameters(),
  );
});

Deno.test("parseClientFrame() takes 60,000 nested arrays or objects in an unknown field without a stack overflow", () => {
  const cases = [["[", "]", "", "not_object"], ['{"a":', "}", "1", "invalid_field"]] as const;
  for (const [open, close, leaf, alone] of cases) {
    const deep = `${open.repeat(60_000)}${leaf}${close.repeat(60_000)}`;
    deepEqual(parseClientFrame(`{"type":"say","text":"hi","pad":${deep}}`), {
      type: "say",
      text: "hi",
    });
    equal(outcome(deep).error, alone);
  }
});

Deno.test("parseClientFrame() refuses numbers JSON.stringify never writes where an integer is due", () => {
  for (
    const n of ["1e400", "-1e400", "9007199254740993", "1e16", "-1", "1.5", '"1"', "true", "null"]
  ) {
    equal(outcome(`{"type":"ping","id":${n}}`).error, "invalid_field", n);
  }
  // JSON has several spellings of one integer; all are that integer.
  for (const n of ["7", "7.0", "7e0", "0.7e1", "70e-1"]) {
    deepEqual(outcome(`{"type":"ping","id":${n}}`).ok, { type: "ping", id: 7 }, n);
  }
});

Deno.test("parseClientFrame() is not fooled by __proto__ keys", () => {
  equal(outcome('{"__proto__":{"type":"say","text":"x"}}').error, "invalid_field");
  equal(outcome('{"type":"say","__proto__":{"text":"x"}}').error, "invalid_field");
  const frame = outcome('{"type":"say","text":"x","__proto__":{"admin":true}}').ok;
  deepEqual(frame, { type: "say", text: "x" });
  equal(({} as Record<string, unknown>)["admin"], undefined, "Object.prototype untouched");
});
