import { deepEqual, equal, match, ok } from "node:assert/strict";
import { getLogger, type LogRecord } from "@logtape/logtape";
import { batchedStreamSink } from "../../lib/util/batched_sink.ts";
import { setupLogging } from "../../lib/util/log.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";

/** A writable that records each write as text and lets a test wait for the next one. */
function recorder(): {
  writable: WritableStream<Uint8Array>;
  writes: string[];
  nextWrite(): Promise<string>;
  hold(): () => void;
} {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  let waiting: ((text: string) => void) | undefined;
  let gate: Promise<void> | undefined;
  const writable = new WritableStream<Uint8Array>({
    write: async (chunk) => {
      const text = decoder.decode(chunk);
      writes.push(text);
      waiting?.(text);
      waiting = undefined;
      if (gate) await gate;
    },
  });
  return {
    writable,
    writes,
    nextWrite: () => new Promise((resolve) => waiting = resolve),
    hold: () => {
      const { promise, resolve } = Promise.withResolvers<void>();
      gate = promise;
      return () => {
        gate = undefined;
        resolve();
      };
    },
  };
}

function record(level: LogRecord["level"], text: string): LogRecord {
  return {
    category: ["banter"],
    level,
    message: [text],
    rawMessage: text,
    properties: {},
    timestamp: 0,
  };
}

const formatter = (r: LogRecord) => `${r.level} ${r.message.join("")}\n`;

/** A sink on a fake clock that has written its first line, `info one`. */
async function afterFirstLine() {
  const clock = new FakeClock();
  const out = recorder();
  const sink = batchedStreamSink(out.writable, { formatter, clock });
  const first = out.nextWrite();
  sink(record("info", "one"));
  await within(first, 2000, "first");
  return { clock, out, sink };
}

Deno.test("setupLogging() writes a burst of info lines in one write per window, not one each", async () => {
  const clock = new FakeClock();
  const out = recorder();
  const reset = await setupLogging({ format: "text", writable: out.writable, clock });
  try {
    const log = getLogger(["banter", "audit"]);
    const first = out.nextWrite();
    log.info("Login {n}", { n: 0 });
    // A quiet log writes its first line at once.
    match(await within(first, 2000, "first line"), /Login 0\n$/);
    for (let n = 1; n <= 100; n++) log.info("Login {n}", { n });
    await clock.untilPendingTimers(1);
    equal(out.writes.length, 1, "the burst waits for the window");
    const burst = out.nextWrite();
    clock.advance(50);
    const text = await within(burst, 2000, "the burst");
    const lines = text.trimEnd().split("\n");
    equal(lines.length, 100);
    deepEqual(lines.map((l) => l.replace(/^.* Login /, "")), lines.map((_, i) => String(i + 1)));
    equal(out.writes.length, 2);
  } finally {
    await reset();
  }
});

Deno.test("batchedStreamSink() writes a warning without waiting for the window, after the lines before it", async () => {
  const { clock, out, sink } = await afterFirstLine();
  const next = out.nextWrite();
  sink(record("info", "two"));
  sink(record("warning", "three"));
  equal(await within(next, 2000, "the warning"), "info two\nwarning three\n");
  await sink[Symbol.asyncDispose]();
  equal(clock.pendingTimers, 0);
});

Deno.test("batchedStreamSink() writes what it holds when disposed (shutdown)", async () => {
  const { clock, out, sink } = await afterFirstLine();
  sink(record("info", "two"));
  sink(record("info", "three"));
  await sink[Symbol.asyncDispose]();
  deepEqual(out.writes, ["info one\n", "info two\ninfo three\n"]);
  equal(clock.pendingTimers, 0);
});

Deno.test("batchedStreamSink() holds a bounded amount while the stream stalls and counts what it dropped", async () => {
  const clock = new FakeClock();
  const out = recorder();
  const sink = batchedStreamSink(out.writable, { formatter, clock, maxHeldChars: 130 });
  const release = out.hold();
  const first = out.nextWrite();
  sink(record("info", "stuck"));
  await within(first, 2000, "first");
  // 20 lines of 13 characters: 10 fit in the bound, 10 are dropped.
  for (let i = 0; i < 20; i++) sink(record("info", `line ${String(i).padStart(2, "0")}`));
  const after = out.nextWrite();
  release();
  const text = await within(after, 2000, "after the stall");
  const lines = text.trimEnd().split("\n");
  equal(lines.length, 11);
  equal(lines[0], "info line 00");
  equal(lines[9], "info line 09");
  match(lines[10]!, /^warning 10 log lines dropped: the log stream was not taking them$/);
  await sink[Symbol.asyncDispose]();
});

Deno.test("batchedStreamSink() keeps working quietly when the stream fails", async () => {
  const clock = new FakeClock();
  let writes = 0;
  const writable = new WritableStream<Uint8Array>({
    write: () => {
      writes++;
      throw new Error("Cannot write: stderr closed");
    },
  });
  const sink = batchedStreamSink(writable, { formatter, clock });
  sink(record("error", "one"));
  await clock.tick(0);
  sink(record("error", "two"));
  await clock.tick(0);
  await sink[Symbol.asyncDispose]();
  equal(writes, 1);
  ok(true, "no rejection escaped");
});
