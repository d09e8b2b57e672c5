import { equal, throws } from "node:assert/strict";
import { WebSocketFrameLimit } from "../../lib/net/websocket_frame_limit.ts";

/** A masked client frame: FIN and opcode, then `payload` bytes (all zero). */
function frame(first: number, length: number, payload = true): Uint8Array {
  const ext = length < 126 ? [] : length < 65536 ? [length >> 8, length & 0xff] : [
    0,
    0,
    0,
    0,
    (length >>> 24) & 0xff,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
  ];
  const len7 = length < 126 ? length : length < 65536 ? 126 : 127;
  const head = [first, 0x80 | len7, ...ext, 1, 2, 3, 4];
  return new Uint8Array([...head, ...(payload ? new Array(length).fill(0) : [])]);
}

Deno.test("WebSocketFrameLimit lets frames up to the cap through, split anywhere", () => {
  const limit = new WebSocketFrameLimit(1000);
  const bytes = new Uint8Array([...frame(0x81, 1000), ...frame(0x89, 4), ...frame(0x81, 200)]);
  for (let at = 0; at < bytes.length; at += 3) {
    equal(limit.accept(bytes.subarray(at, at + 3)), true);
  }
});

Deno.test("WebSocketFrameLimit refuses a frame announced over the cap at its header, 16- and 64-bit lengths", () => {
  equal(new WebSocketFrameLimit(1000).accept(frame(0x81, 1001, false)), false);
  equal(new WebSocketFrameLimit(1000).accept(frame(0x82, 64 * 1024 * 1024, false)), false);
});

Deno.test("WebSocketFrameLimit counts a fragmented message as a whole, and starts again after FIN", () => {
  const limit = new WebSocketFrameLimit(1000);
  equal(limit.accept(frame(0x01, 600)), true); // text, not FIN
  equal(limit.accept(frame(0x89, 10)), true); // a ping in between
  equal(limit.accept(frame(0x80, 400)), true); // continuation, FIN: 1000 in all
  equal(limit.accept(frame(0x01, 600)), true);
  equal(limit.accept(frame(0x80, 401, false)), false); // 1001
  equal(limit.accept(frame(0x81, 1)), false, "refused stays refused");
});

Deno.test("WebSocketFrameLimit refuses a control frame longer than 125 bytes, and a bad cap", () => {
  equal(new WebSocketFrameLimit(1000).accept(frame(0x89, 126, false)), false);
  throws(() => new WebSocketFrameLimit(0), RangeError);
});
