/**
 * A LogTape sink that formats each record at once (so lines keep their
 * order) and writes adaptively: a line of a quiet log goes out at once (in a
 * microtask, with the rest of that run's lines), but lines that come within
 * `flushMs` of the last write wait for the window to end and go out as one
 * write, so a login storm's `info` lines cost one write per window instead
 * of one each. A `warning` or worse is written without waiting for the
 * window, and disposing the sink (LogTape's `reset()`, at shutdown) writes
 * what is held.
 *
 * Memory is bounded: while the stream does not take the lines (a stalled
 * pipe), at most `maxHeldChars` characters are held; later lines are
 * dropped and counted, and one `warning` line saying how many were dropped
 * is written before the next lines that get through.
 *
 * @module
 */
import type { LogRecord, Sink, TextFormatter } from "@logtape/logtape";
import { systemClock, type TimerId, type Timers, type TimeSource } from "./clock.ts";

/** How long after a write further `info` and `debug` lines are gathered before the next, ms. */
export const DEFAULT_LOG_FLUSH_MS = 50;

/** Characters held that are written at once, without waiting for the window. */
export const DEFAULT_LOG_BATCH_CHARS = 16 * 1024;

/** Most characters held while the stream is not taking them; later lines are dropped. */
export const DEFAULT_LOG_HELD_CHARS = 1024 * 1024;

/** Options for {@linkcode batchedStreamSink}. */
export interface BatchedSinkOptions {
  /** Turns a record into its line (with its line break). */
  formatter: TextFormatter;
  /** The window after a write in which lines are gathered. @default {DEFAULT_LOG_FLUSH_MS} */
  flushMs?: number;
  /** Held characters that are written at once. @default {DEFAULT_LOG_BATCH_CHARS} */
  batchChars?: number;
  /** Bound on held characters. @default {DEFAULT_LOG_HELD_CHARS} */
  maxHeldChars?: number;
  /** The window's timer and the dropped-lines line's time. @default systemClock */
  clock?: TimeSource & Timers;
}

/** Levels whose lines are written without waiting for the window. */
const URGENT = new Set(["warning", "error", "fatal"]);

/**
 * A sink writing formatted lines to `writable`, a window's lines per write.
 *
 * @param writable Where the lines go (e.g. `Deno.stderr.writable`); closed on dispose.
 * @param options The formatter, window and bounds.
 * @returns The sink; LogTape disposes it on `reset()`, which writes what is held.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { batchedStreamSink } from "./batched_sink.ts";
 * const writes: string[] = [];
 * const writable = new WritableStream<Uint8Array>({
 *   write: (chunk) => void writes.push(new TextDecoder().decode(chunk)),
 * });
 * const sink = batchedStreamSink(writable, { formatter: (r) => `${r.message.join("")}\n` });
 * const record = { category: ["x"], level: "info", rawMessage: "", properties: {}, timestamp: 0 } as const;
 * sink({ ...record, message: ["one"] });
 * sink({ ...record, message: ["two"] });
 * await sink[Symbol.asyncDispose]();
 * equal(writes.join("|"), "one\ntwo\n");
 * ```
 */
export function batchedStreamSink(
  writable: WritableStream<Uint8Array>,
  options: BatchedSinkOptions,
): Sink & AsyncDisposable {
  const formatter = options.formatter;
  const flushMs = options.flushMs ?? DEFAULT_LOG_FLUSH_MS;
  const batchChars = options.batchChars ?? DEFAULT_LOG_BATCH_CHARS;
  const maxHeldChars = options.maxHeldChars ?? DEFAULT_LOG_HELD_CHARS;
  const clock = options.clock ?? systemClock;
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let held: string[] = [];
  let heldChars = 0;
  let dropped = 0;
  let timer: TimerId | undefined;
  /** The write the stream has not finished; the next batch waits for it. */
  let writing: Promise<void> | undefined;
  /** Lines are waiting that should not wait for the window. */
  let urgent = false;
  let flushQueued = false;
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  let failed = false;
  let disposed = false;

  function droppedLine(): string {
    const record: LogRecord = {
      category: ["banter", "log"],
      level: "warning",
      message: ["", dropped, " log lines dropped: the log stream was not taking them"],
      rawMessage: "{count} log lines dropped: the log stream was not taking them",
      properties: { count: dropped },
      timestamp: clock.now(),
    };
    dropped = 0;
    return formatter(record);
  }

  /** Write what is held now, unless a write is still running (it writes it after). */
  function flush(): void {
    clock.clearTimeout(timer);
    timer = undefined;
    if (writing !== undefined || failed) return;
    if (dropped > 0) held.push(droppedLine());
    if (held.length === 0) return;
    const text = held.length === 1 ? held[0]! : held.join("");
    held = [];
    heldChars = 0;
    urgent = false;
    lastWriteAt = clock.now();
    writing = writer.ready.then(() => writer.write(encoder.encode(text))).then(
      () => {
        writing = undefined;
        // What came in meanwhile goes out now if it could not wait; else its window runs.
        if (urgent || heldChars >= batchChars || dropped > 0) flush();
        else if (held.length > 0) timer ??= clock.setTimeout(flush, flushMs);
      },
      () => {
        // Nowhere left to write (stderr closed): hold nothing more.
        writing = undefined;
        failed = true;
        held = [];
        heldChars = 0;
      },
    );
  }

  const sink = (record: LogRecord): void => {
    if (failed || disposed) return;
    const line = formatter(record);
    if (writing !== undefined && heldChars + line.length > maxHeldChars) {
      dropped++;
      return;
    }
    held.push(line);
    heldChars += line.length;
    if (URGENT.has(record.level)) urgent = true;
    if (writing !== undefined) return;
    const quiet = clock.now() - lastWriteAt >= flushMs;
    if (urgent || quiet || heldChars >= batchChars) {
      // After the rest of this run's lines, without waiting for the window:
      // a quiet log writes at once, a busy one gathers a window's lines.
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(() => {
          flushQueued = false;
          flush();
        });
      }
    } else {
      timer ??= clock.setTimeout(flush, flushMs - (clock.now() - lastWriteAt));
    }
  };

  return Object.assign(sink, {
    async [Symbol.asyncDispose](): Promise<void> {
      if (disposed) return;
      disposed = true;
      for (;;) {
        if (writing !== undefined) await writing;
        if (failed || (held.length === 0 && dropped === 0)) break;
        flush();
      }
      clock.clearTimeout(timer);
      timer = undefined;
      try {
        if (!failed) await writer.close();
      } finally {
        writer.releaseLock();
      }
    },
  });
}
