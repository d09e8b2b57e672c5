/**
 * A size check on the frames a WebSocket client sends, read from the raw
 * bytes before any WebSocket implementation reassembles them:
 * `Deno.upgradeWebSocket` has no size option and takes messages of up to
 * 64 MiB, so a relay that sees the bytes first can refuse one as soon as a
 * frame header announces more than the cap (RFC 6455 section 5.2).
 *
 * @module
 */

/** The state between two chunks: where in which frame the stream is. */
type Phase = "header" | "payload";

/**
 * Follows the client-to-server frames of one WebSocket and says when a
 * message (its data frames, continuations included) would pass `maxBytes`.
 *
 * @example A 2-byte cap refuses a 3-byte text frame at its header
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { WebSocketFrameLimit } from "./websocket_frame_limit.ts";
 *
 * const limit = new WebSocketFrameLimit(2);
 * equal(limit.accept(new Uint8Array([0x81, 0x82, 0, 0, 0, 0, 1, 2])), true);
 * equal(limit.accept(new Uint8Array([0x81, 0x83, 0, 0, 0, 0])), false); // before its payload
 * ```
 */
export class WebSocketFrameLimit {
  readonly #max: number;
  #phase: Phase = "header";
  #header: number[] = [];
  #payloadLeft = 0;
  #messageBytes = 0;
  #refused = false;

  /**
   * @param maxBytes The largest message payload allowed.
   * @throws {RangeError} When `maxBytes` is not a positive integer.
   */
  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`Cannot limit WebSocket frames: ${maxBytes} is not a positive integer`);
    }
    this.#max = maxBytes;
  }

  /**
   * Read the next bytes of the stream.
   *
   * @param chunk Bytes as they arrived.
   * @returns False once a message is announced larger than the cap (and from then on).
   */
  accept(chunk: Uint8Array): boolean {
    let at = 0;
    while (!this.#refused && at < chunk.length) {
      if (this.#phase === "payload") {
        const take = Math.min(this.#payloadLeft, chunk.length - at);
        this.#payloadLeft -= take;
        at += take;
        if (this.#payloadLeft === 0) this.#phase = "header";
        continue;
      }
      this.#header.push(chunk[at++]!);
      const need = headerLength(this.#header);
      if (need === undefined || this.#header.length < need) continue;
      this.#frame(this.#header);
      this.#header = [];
    }
    return !this.#refused;
  }

  #frame(header: number[]): void {
    const opcode = header[0]! & 0x0f;
    const fin = (header[0]! & 0x80) !== 0;
    const length = payloadLength(header);
    if (opcode < 8) { // a data frame (0 continues a message)
      if (opcode !== 0) this.#messageBytes = 0;
      this.#messageBytes += length;
      if (this.#messageBytes > this.#max) {
        this.#refused = true;
        return;
      }
      if (fin) this.#messageBytes = 0;
    } else if (length > 125) { // a control frame is never longer (RFC 6455 5.5)
      this.#refused = true;
      return;
    }
    this.#payloadLeft = length;
    this.#phase = length > 0 ? "payload" : "header";
  }
}

/** Bytes of the header so far needed in all, once its second byte is known. */
function headerLength(header: number[]): number | undefined {
  if (header.length < 2) return undefined;
  const masked = (header[1]! & 0x80) !== 0 ? 4 : 0;
  const len7 = header[1]! & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + masked;
}

function payloadLength(header: number[]): number {
  const len7 = header[1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return header[2]! * 256 + header[3]!;
  let length = 0;
  for (let i = 2; i < 10; i++) length = length * 256 + header[i]!; // past 2^53: over any cap anyway
  return length;
}
