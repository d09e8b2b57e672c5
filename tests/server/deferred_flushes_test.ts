import { deepEqual, equal, ok, throws } from "node:assert/strict";
import type { ByteSink } from "../../lib/wire/byte_channel.ts";
import { DeferredFlushes } from "../../lib/server/deferred_flushes.ts";
import { CHUNK_BYTES, FRAME_OVERHEAD_BYTES, Outbox } from "../../lib/server/outbox.ts";
import { FakeClock } from "../_fake_clock.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A sink that takes every write at once and keeps what it got. */
function takingSink(): { sink: ByteSink; writes: string[] } {
  const writes: string[] = [];
  return {
    writes,
    sink: {
      write: (bytes) => void writes.push(dec.decode(bytes)),
      close: () => Promise.resolve(),
    },
  };
}

/** Every microtask queued so far (and the ones they queue) has run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function deferringOutbox(clock: FakeClock, windowMs = 100) {
  const { sink, writes } = takingSink();
  const deferrals = new DeferredFlushes({ windowMs, clock });
  const outbox = new Outbox(sink, { clock, deferrals });
  return { outbox, writes, deferrals };
}

Deno.test("pushDeferred on a quiet connection writes at once", async () => {
  const clock = new FakeClock();
  const { outbox, writes } = deferringOutbox(clock);
  outbox.pushDeferred(enc.encode("join a\n"));
  await settle();
  deepEqual(writes, ["join a\n"]);
  equal(clock.pendingTimers, 0, "no timer for a quiet connection");
});

Deno.test("a busy connection's joins within the window go out as one write", async () => {
  const clock = new FakeClock();
  const { outbox, writes } = deferringOutbox(clock);
  outbox.push(enc.encode("message\n"));
  await settle();
  equal(writes.length, 1);
  // Ten joins over the next 50 ms, one per 5 ms, as logins into a room come.
  for (let i = 0; i < 10; i++) {
    clock.advance(5);
    outbox.pushDeferred(enc.encode(`join u${i}\n`));
    await settle();
  }
  equal(writes.length, 1, "nothing written while the window runs");
  // Charged like any frames: eight held as they are, then one shared chunk.
  ok(outbox.queuedBytes >= CHUNK_BYTES + FRAME_OVERHEAD_BYTES, "held frames are charged");
  clock.advance(100);
  await settle();
  equal(writes.length, 2, "one write for the ten joins, not ten");
  equal(writes[1], Array.from({ length: 10 }, (_, i) => `join u${i}\n`).join(""));
  equal(outbox.queuedBytes, 0);
});

Deno.test("a frame pushed normally takes the held joins along, in order", async () => {
  const clock = new FakeClock();
  const { outbox, writes } = deferringOutbox(clock);
  outbox.push(enc.encode("m1\n"));
  await settle();
  clock.advance(10);
  outbox.pushDeferred(enc.encode("join b\n"));
  outbox.pushDeferred(enc.encode("leave c\n"));
  await settle();
  equal(writes.length, 1);
  outbox.push(enc.encode("m2\n"));
  await settle();
  deepEqual(writes, ["m1\n", "join b\nleave c\nm2\n"]);
  clock.advance(100); // the window's timer finds nothing left to write
  await settle();
  equal(writes.length, 2);
});

Deno.test("one timer serves every outbox of a DeferredFlushes", async () => {
  const clock = new FakeClock();
  const deferrals = new DeferredFlushes({ windowMs: 100, clock });
  const all = Array.from({ length: 50 }, () => {
    const { sink, writes } = takingSink();
    return { outbox: new Outbox(sink, { clock, deferrals }), writes };
  });
  for (const { outbox } of all) outbox.push(enc.encode("m\n"));
  await settle();
  clock.advance(1);
  for (const { outbox } of all) {
    outbox.pushDeferred(enc.encode("join x\n"));
    outbox.pushDeferred(enc.encode("join y\n"));
  }
  await settle();
  equal(clock.pendingTimers, 1, "one timer, not one per outbox");
  clock.advance(100);
  await settle();
  for (const { writes } of all) deepEqual(writes, ["m\n", "join x\njoin y\n"]);
});

Deno.test("closing an outbox writes its held frames before the goodbye", async () => {
  const clock = new FakeClock();
  const { outbox, writes } = deferringOutbox(clock);
  outbox.push(enc.encode("m\n"));
  await settle();
  outbox.pushDeferred(enc.encode("join z\n"));
  await outbox.close(enc.encode("bye\n"));
  deepEqual(writes.join(""), "m\njoin z\nbye\n");
});

Deno.test("disposing DeferredFlushes runs what waits, and later ones at once", async () => {
  const clock = new FakeClock();
  const { outbox, writes, deferrals } = deferringOutbox(clock);
  outbox.push(enc.encode("m\n"));
  await settle();
  outbox.pushDeferred(enc.encode("join a\n"));
  deferrals[Symbol.dispose]();
  await settle();
  deepEqual(writes, ["m\n", "join a\n"]);
  equal(clock.pendingTimers, 0);
  outbox.pushDeferred(enc.encode("leave a\n"));
  await settle();
  deepEqual(writes, ["m\n", "join a\n", "leave a\n"]);
  equal(clock.pendingTimers, 0, "no timer after dispose");
});

Deno.test("pushDeferred without DeferredFlushes is a plain push", async () => {
  const { sink, writes } = takingSink();
  const outbox = new Outbox(sink);
  outbox.push(enc.encode("m\n"));
  await settle();
  outbox.pushDeferred(enc.encode("join a\n"));
  await settle();
  deepEqual(writes, ["m\n", "join a\n"]);
});

Deno.test("DeferredFlushes refuses a window that is not a positive time", () => {
  throws(() => new DeferredFlushes({ windowMs: 0 }), RangeError);
  throws(() => new DeferredFlushes({ windowMs: Number.NaN }), RangeError);
});
