/**
 * Capture the server's log records in-process (LogTape is configured per
 * test module) and format them the way lib/util/log.ts does, as text lines and
 * as JSON lines.
 *
 * @module
 */
import type { LogRecord } from "@logtape/logtape";
import { logFormatter, setupLogging } from "../../lib/util/log.ts";

/** Captured log records, formatted on demand. */
export interface LogCapture extends AsyncDisposable {
  readonly records: LogRecord[];
  /** Each record as the text format writes it (one string per record). */
  text(): string[];
  /** Each record as the JSON-lines format writes it. */
  json(): string[];
}

/**
 * Route every `banter` log record, down to debug, into memory until
 * disposed.
 *
 * @returns The capture.
 */
export async function captureLogs(): Promise<LogCapture> {
  const records: LogRecord[] = [];
  const reset = await setupLogging({ level: "debug", sink: (record) => records.push(record) });
  const text = logFormatter("text");
  const json = logFormatter("json");
  return {
    records,
    text: () => records.map(text),
    json: () => records.map(json),
    [Symbol.asyncDispose]: reset,
  };
}
