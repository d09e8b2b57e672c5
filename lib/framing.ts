/**
 * Bytes to lines and back, with a hard cap on line size. One frame is one
 * UTF-8 line ending in `\n`; a peer that sends a longer line or invalid UTF-8
 * gets a {@linkcode FrameError} and memory stays bounded whatever it sends.
 *
 * @module
 */

/** The default cap on one frame, newline excluded: 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

const NEWLINE = 0x0a;

/** Why a byte stream could not be split into frames. */
export type FrameErrorCode = "frame_too_long" | "invalid_utf8";

/** A peer sent bytes that are not a valid frame. */
export class FrameError extends Error {
  /** Machine-readable cause, also sent to the peer. */
  readonly code: FrameErrorCode;

  /**
   * @param code What was wrong.
   * @param message Human-readable text.
   */
  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/** Options for {@linkcode LineDecoderStream}. */
export interface LineDecoderOptions {
  /** Largest frame in bytes, newline excluded. @default {DEFAULT_MAX_FRAME_BYTES} */
  maxFrameBytes?: number;
}

/**
 * Splits a byte stream into UTF-8 lines without their `\n` (a trailing `\r`
 * is dropped too). Frames may arrive split across many chunks or many in one
 * chunk. A line that passes the cap (detected without waiting for its end) or
 * is not valid UTF-8 errors the readable side with a {@linkcode FrameError},
 * but only after every good line before it has been read: a peer's valid
 * frames are never lost to the bad one that follows them in the same write.
 * Nothing after a bad line is decoded.
 *
 * @example Reassemble frames split at any point
 * ```ts
 * import { deepEqual as assertEquals } from "node:assert/strict";
 * import { LineDecoderStream } from "./framing.ts";
 * const bytes = new TextEncoder().encode('{"a":1}\n{"b":2}\n');
 * const chunks = [bytes.subarray(0, 3), bytes.subarray(3)];
 * const lines = await Array.fromAsync(
 *   ReadableStream.from(chunks).pipeThrough(new LineDecoderStream()),
 * );
 * assertEquals(lines, ['{"a":1}', '{"b":2}']);
 * ```
 */
export class LineDecoderStream implements ReadableWritablePair<string, Uint8Array> {
  /** Decoded lines; errors with a {@linkcode FrameError} after the good ones. */
  readonly readable: ReadableStream<string>;
  /** Raw bytes in. */
  readonly writable: WritableStream<Uint8Array>;

  /** @param options The frame size cap. */
  constructor(options: LineDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot decode frames: maxFrameBytes is ${max}`);
    }
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    // Pieces of the current, unfinished line.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;

    const decode = (tail: Uint8Array): string => {
      let line: Uint8Array;
      if (pending.length === 0) {
        line = tail;
      } else {
        line = new Uint8Array(pendingBytes + tail.length);
        let at = 0;
        for (const piece of pending) {
          line.set(piece, at);
          at += piece.length;
        }
        line.set(tail, at);
        pending = [];
        pendingBytes = 0;
      }
      let end = line.length;
      if (end > 0 && line[end - 1] === 0x0d) end--;
      if (end > max) throw tooLong(max);
      try {
        return decoder.decode(line.subarray(0, end));
      } catch (cause) {
        if (cause instanceof TypeError) {
          throw new FrameError("invalid_utf8", "Frame is not valid UTF-8");
        }
        throw cause;
      }
    };

    // Decoded lines wait here for the reader; a bad line ends the queue with
    // its error, so the good lines before it are still read first.
    const queue: string[] = [];
    let ending: FrameError | "closed" | undefined;
    let wakeReader: (() => void) | undefined;
    let wakeWriter: (() => void) | undefined;
    const wake = () => {
      wakeReader?.();
      wakeReader = undefined;
    };

    this.writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        if (ending !== undefined) return; // nothing after a bad line is decoded
        try {
          let start = 0;
          let newline = chunk.indexOf(NEWLINE, start);
          while (newline !== -1) {
            queue.push(decode(chunk.subarray(start, newline)));
            start = newline + 1;
            newline = chunk.indexOf(NEWLINE, start);
          }
          if (start < chunk.length) {
            const rest = chunk.subarray(start);
            // +1 leaves room for a `\r` that a CRLF peer may still send.
            if (pendingBytes + rest.length > max + 1) throw tooLong(max);
            // Copy: the caller may reuse its buffer.
            pending.push(rest.slice());
            pendingBytes += rest.length;
          }
        } catch (error) {
          if (!(error instanceof FrameError)) throw error;
          pending = [];
          pendingBytes = 0;
          ending = error;
        }
        wake();
        // Backpressure: take no more bytes until the reader caught up.
        while (queue.length > 0 && ending === undefined) {
          await new Promise<void>((resolve) => wakeWriter = resolve);
        }
      },
      close() {
        // A final line without `\n` is incomplete: drop it.
        pending = [];
        pendingBytes = 0;
        ending ??= "closed";
        wake();
      },
      abort(reason) {
        ending ??= reason instanceof FrameError ? reason : "closed";
        wake();
      },
    }, { highWaterMark: 1 });

    this.readable = new ReadableStream<string>({
      async pull(controller) {
        while (queue.length === 0 && ending === undefined) {
          await new Promise<void>((resolve) => wakeReader = resolve);
        }
        const line = queue.shift();
        if (line !== undefined) controller.enqueue(line);
        else if (ending instanceof FrameError) controller.error(ending);
        else controller.close();
        if (queue.length === 0) {
          wakeWriter?.();
          wakeWriter = undefined;
        }
      },
      cancel() {
        ending ??= "closed";
        queue.length = 0;
        wakeWriter?.();
        wakeWriter = undefined;
      },
    }, { highWaterMark: 0 });
  }
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
