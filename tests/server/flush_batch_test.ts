import { deepEqual, equal } from "node:assert/strict";
import type { ByteSink } from "../../lib/wire/byte_channel.ts";
import { FlushBatch } from "../../lib/server/flush_batch.ts";
import { Outbox } from "../../lib/server/outbox.ts";

/** A sink that takes every write at once and records it. */
function recordingSink(name: string, log: string[]): ByteSink {
  const decoder = new TextDecoder();
  return {
    write: (bytes) => void log.push(`${name} ${decoder.decode(bytes)}`),
    close: () => Promise.resolve(),
  };
}

Deno.test("FlushBatch: a message to 100 outboxes schedules one flush for all of them, not one each", () => {
  const deferred: (() => void)[] = [];
  const flushes = new FlushBatch({ defer: (run) => void deferred.push(run) });
  const log: string[] = [];
  const outboxes = Array.from(
    { length: 100 },
    (_, i) => new Outbox(recordingSink(`o${i}`, log), { flushes }),
  );
  const frame = new TextEncoder().encode("hi\n");
  const again = new TextEncoder().encode("yo\n");
  for (const outbox of outboxes) outbox.push(frame);
  for (const outbox of outboxes) outbox.push(again);
  equal(deferred.length, 1, "one deferred run for the turn");
  equal(log.length, 0, "nothing written before it runs");
  deferred[0]!();
  equal(log.length, 100, "one write per outbox");
  deepEqual(log.slice(0, 2), ["o0 hi\nyo\n", "o1 hi\nyo\n"]);
  // The next turn schedules anew.
  outboxes[7]!.push(frame);
  equal(deferred.length, 2);
  deferred[1]!();
  equal(log.at(-1), "o7 hi\n");
});

Deno.test("FlushBatch runs the other flushes when one throws, and still reports the error", async () => {
  const deferred: (() => void)[] = [];
  const flushes = new FlushBatch({ defer: (run) => void deferred.push(run) });
  const ran: string[] = [];
  flushes.add(() => ran.push("a"));
  flushes.add(() => {
    throw new Error("Cannot flush: broken");
  });
  flushes.add(() => ran.push("c"));
  const reported = new Promise<unknown>((resolve) => {
    const onError = (event: ErrorEvent) => {
      event.preventDefault();
      globalThis.removeEventListener("error", onError);
      resolve(event.error);
    };
    globalThis.addEventListener("error", onError);
  });
  deferred[0]!();
  deepEqual(ran, ["a", "c"]);
  equal((await reported as Error).message, "Cannot flush: broken");
});
