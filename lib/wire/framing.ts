/**
 * Bytes to lines and back, with a hard cap on line size. One frame is one
 * UTF-8 line ending in `\n`; a peer that sends a longer line or invalid UTF-8
 * gets a {@linkcode FrameError} and memory stays bounded whatever it sends.
 *
 * @module
 */

import { concatBytes } from "../util/bytes.ts";
import type { ByteSource } from "./byte_channel.ts";
import { PeerError } from "./peer_error.ts";

/** The default cap on one frame, newline excluded: 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

const NEWLINE = 0x0a;

/** Why a byte stream could not be split into frames. */
export type FrameErrorCode = "frame_too_long" | "invalid_utf8";

/** A peer sent bytes that are not a valid frame. */
export class FrameError extends PeerError<FrameErrorCode> {
  /**
   * @param code What was wrong.
   * @param message Human-readable text, safe to send to the peer.
   * @param options The underlying error, if any.
   */
  constructor(code: FrameErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "FrameError";
  }
}

/** Options for {@linkcode LineSplitter} and {@linkcode LineReader}. */
export interface LineDecoderOptions {
  /** Largest frame in bytes, newline excluded. @default {DEFAULT_MAX_FRAME_BYTES} */
  maxFrameBytes?: number;
}

/**
 * The synchronous core of frame decoding: feed byte chunks, get complete
 * UTF-8 lines without their `\n` (a trailing `\r` is dropped too). Frames may
 * be split across chunks or many in one. A line over the cap (detected
 * without waiting for its end) or not valid UTF-8 sets {@linkcode error};
 * the good lines before it are still returned, nothing after it is decoded.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { LineSplitter } from "./framing.ts";
 * const splitter = new LineSplitter({ maxFrameBytes: 8 });
 * const bytes = (s: string) => new TextEncoder().encode(s);
 * deepEqual(splitter.push(bytes("a\nb")), ["a"]);
 * deepEqual(splitter.push(bytes("c\n0123456789")), ["bc"]);
 * deepEqual(splitter.error?.code, "frame_too_long");
 * ```
 */
export class LineSplitter {
  #max: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  /**
   * The current, unfinished line, gathered in one buffer that grows by
   * doubling up to the cap (a line sent a byte per record holds its bytes,
   * not one copy and one object per piece).
   */
  #pending: Uint8Array | undefined;
  #pendingBytes = 0;
  #error: FrameError | undefined;

  /** @param options The frame size cap. */
  constructor(options: LineDecoderOptions = {}) {
    this.#max = checkedMax(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  }

  /** The frame cap; a new one applies from the next chunk pushed. */
  get maxFrameBytes(): number {
    return this.#max;
  }

  set maxFrameBytes(max: number) {
    this.#max = checkedMax(max);
  }

  /** The bad line's error, once one was seen. */
  get error(): FrameError | undefined {
    return this.#error;
  }

  /**
   * Split one chunk.
   *
   * @param chunk Bytes as they arrived; not kept (copied when needed).
   * @returns The lines completed by this chunk, up to a bad one.
   */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    if (this.#error) return lines;
    try {
      let start = 0;
      let newline = chunk.indexOf(NEWLINE, start);
      while (newline !== -1) {
        lines.push(this.#decode(chunk.subarray(start, newline)));
        start = newline + 1;
        newline = chunk.indexOf(NEWLINE, start);
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        // +1 leaves room for a `\r` that a CRLF peer may still send.
        if (this.#pendingBytes + rest.length > this.#max + 1) throw tooLong(this.#max);
        this.#gather(rest);
      }
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.#error = error;
      this.end();
    }
    return lines;
  }

  /** End of input: an unfinished last line is dropped. */
  end(): void {
    this.#pending = undefined;
    this.#pendingBytes = 0;
  }

  /** Add `piece` to the unfinished line (the caller checked the cap). */
  #gather(piece: Uint8Array): void {
    const needed = this.#pendingBytes + piece.length;
    if (this.#pending === undefined || this.#pending.length < needed) {
      const size = Math.min(this.#max + 1, Math.max(needed, 2 * (this.#pending?.length ?? 128)));
      const grown = new Uint8Array(size);
      if (this.#pending !== undefined) grown.set(this.#pending.subarray(0, this.#pendingBytes));
      this.#pending = grown;
    }
    this.#pending.set(piece, this.#pendingBytes);
    this.#pendingBytes = needed;
  }

  #decode(tail: Uint8Array): string {
    let line = tail;
    if (this.#pending !== undefined) {
      line = concatBytes(
        [this.#pending.subarray(0, this.#pendingBytes), tail],
        this.#pendingBytes + tail.length,
      );
      this.end();
    }
    let end = line.length;
    if (end > 0 && line[end - 1] === 0x0d) end--;
    if (end > this.#max) throw tooLong(this.#max);
    try {
      return this.#decoder.decode(line.subarray(0, end));
    } catch (cause) {
      if (cause instanceof TypeError) {
        throw new FrameError("invalid_utf8", "Frame is not valid UTF-8", { cause });
      }
      throw cause;
    }
  }
}

/** `#split`'s answer for a chunk that completed no line: read on. */
const AGAIN: unique symbol = Symbol("again");

/**
 * Reads lines from a byte source without a stream in between (one object
 * per connection instead of a stream pair and a pipe).
 * {@linkcode next} resolves with the next line, `undefined` at the end, or
 * rejects with the {@linkcode FrameError} after every good line before it.
 */
export class LineReader {
  readonly #source: ByteSource;
  readonly #splitter: LineSplitter;
  #lines: string[] = [];
  #at = 0;

  /**
   * @param source Bytes (see lib/wire/byte_channel.ts; `streamSource` adapts a stream).
   * @param options The frame size cap.
   */
  constructor(source: ByteSource, options: LineDecoderOptions = {}) {
    this.#source = source;
    this.#splitter = new LineSplitter(options);
  }

  /**
   * The next line.
   *
   * @returns The line, or undefined at end of input.
   * @throws {FrameError} After the good lines that preceded a bad one.
   */
  next(): Promise<string | undefined> {
    // Not an async function: a read waiting on an idle connection holds a
    // promise reaction, not a suspended function frame.
    if (this.#at < this.#lines.length) return Promise.resolve(this.#lines[this.#at++]);
    if (this.#splitter.error) return Promise.reject(this.#splitter.error);
    // One promise per line, settled from a read loop: chunks that complete
    // no line do not chain a promise each (a line sent a byte per record
    // would hold one per byte until it ends).
    const { promise, resolve, reject } = Promise.withResolvers<string | undefined>();
    const pump = (chunk: Uint8Array | undefined): void => {
      try {
        const got = this.#split(chunk);
        if (got === AGAIN) this.#source.read().then(pump, reject);
        else resolve(got);
      } catch (error) {
        reject(error);
      }
    };
    this.#source.read().then(pump, reject);
    return promise;
  }

  #split(chunk: Uint8Array | undefined): string | undefined | typeof AGAIN {
    if (chunk === undefined) {
      this.#splitter.end();
      return undefined;
    }
    this.#lines = this.#splitter.push(chunk);
    this.#at = 0;
    if (this.#at < this.#lines.length) return this.#lines[this.#at++];
    if (this.#splitter.error) throw this.#splitter.error;
    return AGAIN;
  }

  /**
   * The frame cap (e.g. raised after login); a new one applies to bytes read
   * from then on, not to lines already split.
   */
  get maxFrameBytes(): number {
    return this.#splitter.maxFrameBytes;
  }

  set maxFrameBytes(max: number) {
    this.#splitter.maxFrameBytes = max;
  }

  /** Stop reading. */
  cancel(): Promise<void> {
    return this.#source.cancel();
  }
}

function checkedMax(max: number): number {
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`Cannot decode frames: maxFrameBytes is ${max}`);
  }
  return max;
}

function tooLong(max: number): FrameError {
  return new FrameError(
    "frame_too_long",
    `Frame is longer than ${max} bytes`,
  );
}

const encoder = new TextEncoder();

/**
 * Encode one frame: the UTF-8 text plus `\n`.
 *
 * @param line A line that contains no `\n`.
 * @returns The bytes to write.
 * @throws {RangeError} When `line` contains a newline.
 */
export function encodeLine(line: string): Uint8Array {
  if (line.includes("\n")) {
    throw new RangeError("Cannot encode frame: line contains a newline");
  }
  return encoder.encode(line + "\n");
}
