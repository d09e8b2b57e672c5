/**
 * LogTape setup for the server: readable lines on a terminal or JSON lines,
 * written to stderr. Library modules only call `getLogger`; nothing is
 * configured at import time. The audit stream is the `["banter", "audit"]`
 * category: logins, failures with source address, lockouts, kicks, bans,
 * admin changes, TLS handshake failures. Callers never pass passwords,
 * hashes, keys or message bodies.
 *
 * Values in a message are written plainly (`Listening on 127.0.0.1:24101`,
 * not `"127.0.0.1"`), with control, bidi and line-breaking characters
 * escaped so no value can forge a line; JSON lines keep each value as a
 * structured property beside the plain message.
 *
 * @module
 */
import {
  configure,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogRecord,
  reset,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";
import { escapeUntrusted } from "./untrusted_text.ts";
import { batchedStreamSink } from "./batched_sink.ts";
import type { Clock } from "./clock.ts";

/** Options for {@linkcode setupLogging}. */
export interface LogOptions {
  /** `text` (coloured on a terminal) or `json` lines. @default "text" */
  format?: "text" | "json";
  /** Lowest level written. @default "info" */
  level?: "debug" | "info" | "warning" | "error";
  /** Where formatted lines go (never coloured). @default stderr */
  writable?: WritableStream<Uint8Array>;
  /** Takes the records instead of a formatter and `writable`. */
  sink?: Sink;
  /**
   * The timer of the write window: `info` lines of up to 50 ms go out as one
   * write (see batched_sink.ts); warnings and worse at once. @default systemClock
   */
  clock?: Clock;
}

/**
 * One value of a log message as plain text: strings unquoted, with every
 * unsafe character escaped (see untrusted_text.ts); numbers, booleans and
 * bigints as they print; anything else inspected.
 *
 * @param value A value from a message template.
 * @returns Its text.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { plainValue } from "./log.ts";
 * equal(plainValue("127.0.0.1"), "127.0.0.1");
 * equal(plainValue("mallory\nINFO forged"), "mallory\\u{a}INFO forged");
 * equal(plainValue(24101), "24101");
 * ```
 */
export function plainValue(value: unknown): string {
  if (typeof value === "string") return escapeUntrusted(value, Infinity);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return String(value);
  }
  if (value === undefined || value === null) return String(value);
  return escapeUntrusted(Deno.inspect(value, { colors: false }), Infinity);
}

/**
 * A record's message with its values written by {@linkcode plainValue}.
 *
 * @param record A log record.
 * @returns The message as one line of text.
 */
export function plainMessage(record: Pick<LogRecord, "message">): string {
  return record.message.map((part, i) => i % 2 === 0 ? String(part) : plainValue(part)).join("");
}

/**
 * Line separators and bidi marks, overrides and isolates, which
 * `JSON.stringify` leaves raw: a JSON line shown in a terminal or an
 * editor could be broken or reordered by them.
 */
const JSON_UNSAFE = /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A JSON line with {@linkcode JSON_UNSAFE} characters written as `\uXXXX`
 * escapes: they can only stand inside strings, so it parses to the same
 * values.
 */
function jsonSafe(line: string): string {
  return line.replace(
    JSON_UNSAFE,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The formatter {@linkcode setupLogging} writes with.
 *
 * @param format `text` or `json`.
 * @param colour ANSI colours (text only).
 * @returns The formatter: text lines with plain values, or JSON lines
 * whose `message` is plain and whose `properties` keep every value.
 */
export function logFormatter(format: "text" | "json", colour = false): TextFormatter {
  if (format === "json") {
    const json = getJsonLinesFormatter();
    return (record) => jsonSafe(json({ ...record, message: [plainMessage(record)] }));
  }
  const options = { timestamp: "date-time-timezone", value: plainValue } as const;
  return colour ? getAnsiColorFormatter(options) : getTextFormatter(options);
}

/**
 * Configure logging for the process. Call once from an entry point.
 *
 * @param options Format, level, sink.
 * @returns A function that flushes and removes the configuration.
 */
export async function setupLogging(
  options: LogOptions = {},
): Promise<() => Promise<void>> {
  const format = options.format ?? "text";
  const colour = format === "text" && options.writable === undefined &&
    Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR");
  const formatter = logFormatter(format, colour);
  const sink = options.sink ??
    batchedStreamSink(options.writable ?? Deno.stderr.writable, {
      formatter,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      {
        category: ["banter"],
        lowestLevel: options.level ?? "info",
        sinks: ["main"],
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["main"],
      },
    ],
  });
  return reset;
}
