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
