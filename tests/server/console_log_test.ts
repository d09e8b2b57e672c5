import { deepEqual } from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { consoleLogSink } from "../../lib/server/console_log.ts";

const record = (message: string) => ({ message: [message] }) as unknown as LogRecord;

Deno.test("consoleLogSink() prints through the console while attached, else to the fallback", () => {
  const fallback: string[] = [];
  const printed: string[][] = [];
  const logs = consoleLogSink({
    fallback: (t) => fallback.push(t),
    format: (r) => `${r.message.join("")}\n`,
  });
  logs.sink(record("before"));
  const detach = logs.attach((lines) => printed.push([...lines]));
  logs.sink(record("during"));
  detach();
  logs.sink(record("after"));
  deepEqual(fallback, ["before\n", "after\n"]);
  deepEqual(printed, [["during"]]);
});

Deno.test("consoleLogSink() splits a record into lines and strips escape codes from each", () => {
  const printed: string[][] = [];
  const logs = consoleLogSink({ fallback: () => {}, format: (r) => `${r.message.join("")}\n` });
  logs.attach((lines) => printed.push([...lines]));
  logs.sink(record("one\ntwo \x1b[2Jthree"));
  deepEqual(printed, [["one", "two three"]]);
});
