import { equal, ok } from "node:assert/strict";
import { FrameError, LineSplitter } from "../../lib/wire/framing.ts";
import { PeerError } from "../../lib/wire/peer_error.ts";
import { parseClientFrame, ProtocolError } from "../../lib/wire/protocol.ts";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("Expected a throw");
}

Deno.test("PeerError carries its code and name, and keeps a cause", () => {
  const cause = new Error("inner");
  const error = new PeerError("odd", "Peer sent something odd", { cause });
  equal(error.name, "PeerError");
  equal(error.code, "odd");
  equal(error.message, "Peer sent something odd");
  equal(error.cause, cause);
});

Deno.test("an unparsable line is a ProtocolError and a PeerError, naming the JSON error as cause", () => {
  const error = thrown(() => parseClientFrame("{nope"));
  ok(error instanceof ProtocolError);
  ok(error instanceof PeerError);
  equal(error.name, "ProtocolError");
  equal(error.code, "invalid_json");
  ok(error.cause instanceof SyntaxError);
});

Deno.test("a bad byte sequence is a FrameError and a PeerError, naming the decoder error as cause", () => {
  const splitter = new LineSplitter();
  splitter.push(new Uint8Array([0xff, 0x0a]));
  const error = splitter.error;
  ok(error instanceof FrameError);
  ok(error instanceof PeerError);
  equal(error.name, "FrameError");
  equal(error.code, "invalid_utf8");
  ok(error.cause instanceof TypeError);
});
