/**
 * LogTape setup for the server: readable lines on a terminal or JSON lines,
 * written to stderr. Library modules only call `getLogger`; nothing is
 * configured at import time. The audit stream is the `["banter", "audit"]`
 * category: logins, failures with source address, lockouts, kicks, bans,
 * admin changes, TLS handshake failures. Callers never pass passwords,
 * hashes, keys or message bodies.
 *
 * @module
 */
import {
  configure,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getStreamSink,
  getTextFormatter,
  reset,
  type Sink,
} from "@logtape/logtape";

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
  const formatter = format === "json"
    ? getJsonLinesFormatter()
    : options.writable === undefined && Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR")
    ? getAnsiColorFormatter({ timestamp: "date-time-timezone" })
    : getTextFormatter({ timestamp: "date-time-timezone" });
  const sink = options.sink ??
    getStreamSink(options.writable ?? Deno.stderr.writable, { formatter });
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
