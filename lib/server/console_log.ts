/**
 * Log lines for the operator's console: a LogTape sink that, while the
 * console runs on a terminal, prints each record above the console's input
 * line (through its screen) instead of into the operator's half-typed text;
 * before the console starts and after it closes, lines go to standard error
 * as usual.
 *
 * @module
 */
import { getTextFormatter, type LogRecord, type Sink } from "@logtape/logtape";
import { sanitise } from "../terminal/sanitise.ts";

/** Where log lines go while the console runs. */
export type PrintLines = (lines: readonly string[]) => void;

/** A log sink that the console can take over; see {@linkcode consoleLogSink}. */
export interface ConsoleLogSink {
  /** The sink to configure LogTape with. */
  readonly sink: Sink;
  /**
   * Print log lines through `print` from now on.
   *
   * @param print Shows lines above the input line.
   * @returns A function that gives the lines back to the fallback.
   */
  attach(print: PrintLines): () => void;
}

/** Options for {@linkcode consoleLogSink}. */
export interface ConsoleLogSinkOptions {
  /** Where lines go when no console is attached. @default standard error */
  readonly fallback?: (text: string) => void;
  /** Formats a record. @default LogTape's text formatter, with time zone */
  readonly format?: (record: LogRecord) => string;
}

/**
 * A log sink for a server with a console on a terminal.
 *
 * @param options Fallback output and formatter.
 * @returns The sink and a way for the console to take it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleLogSink } from "./console_log.ts";
 *
 * const fallback: string[] = [];
 * const shown: string[] = [];
 * const logs = consoleLogSink({ fallback: (t) => fallback.push(t), format: (r) => `${r.message}\n` });
 * const record = { message: ["hi"] } as unknown as Parameters<typeof logs.sink>[0];
 * logs.sink(record);
 * const detach = logs.attach((lines) => shown.push(...lines));
 * logs.sink(record);
 * detach();
 * assert.deepEqual([fallback, shown], [["hi\n"], ["hi"]]);
 * ```
 */
export function consoleLogSink(options: ConsoleLogSinkOptions = {}): ConsoleLogSink {
  const encoder = new TextEncoder();
  const fallback = options.fallback ?? ((text: string) => {
    Deno.stderr.writeSync(encoder.encode(text));
  });
  const format = options.format ?? getTextFormatter({ timestamp: "date-time-timezone" });
  let print: PrintLines | undefined;
  return {
    sink(record) {
      const text = format(record);
      if (print === undefined) return fallback(text);
      // One record may be several lines; none may move the cursor.
      print(text.replace(/\r?\n$/, "").split(/\r?\n/).map((line) => sanitise(line)));
    },
    attach(next) {
      print = next;
      return () => {
        if (print === next) print = undefined;
      };
    },
  };
}
