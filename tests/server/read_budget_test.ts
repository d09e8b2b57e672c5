import { deepEqual, equal, throws } from "node:assert/strict";
import type { ByteSource } from "../../lib/wire/byte_channel.ts";
import { ReadBudget } from "../../lib/server/read_budget.ts";
import { FakeClock } from "../_fake_clock.ts";

/** A source of `count` chunks of `size` bytes, and how many were read. */
function chunks(count: number, size: number): ByteSource & { reads: number; cancelled: boolean } {
  const source = {
    reads: 0,
    cancelled: false,
    read() {
      if (source.cancelled || source.reads >= count) return Promise.resolve(undefined);
      source.reads++;
      return Promise.resolve(new Uint8Array(size));
    },
    cancel() {
      source.cancelled = true;
      return Promise.resolve();
    },
  };
  return source;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("ReadBudget reads the burst at once, then waits on the clock for each chunk's worth", async () => {
  const clock = new FakeClock();
  let pauses = 0;
  const budget = new ReadBudget(clock, {
    burstBytes: 1000,
    bytesPerSecond: 100,
    onPause: () => pauses++,
  });
  const source = chunks(10, 500);
  const reader = budget.throttle(source);
  await reader.read();
  await reader.read(); // 1,000 bytes: the burst is spent, no debt yet
  await reader.read(); // tokens at 0: one more read may go into debt
  equal(source.reads, 3);
  let fourth = false;
  const next = reader.read().then(() => fourth = true);
  await settle();
  equal(fourth, false, "paused: 500 bytes of debt");
  equal(pauses, 1);
  equal(clock.pendingTimers, 1);
  await clock.tick(4999);
  equal(fourth, false, "500 bytes at 100 per second take 5 s");
  await clock.tick(1);
  await next;
  equal(source.reads, 4);
  equal(clock.pendingTimers, 0);
});

Deno.test("ReadBudget.end() lifts the budget, also for a read that is waiting", async () => {
  const clock = new FakeClock();
  const budget = new ReadBudget(clock, { burstBytes: 10, bytesPerSecond: 1 });
  const source = chunks(5, 100);
  const reader = budget.throttle(source);
  await reader.read();
  const waiting = reader.read();
  await settle();
  equal(source.reads, 1);
  budget.end();
  await waiting;
  for (let i = 0; i < 3; i++) await reader.read();
  equal(source.reads, 5);
  equal(clock.pendingTimers, 0, "no timer left behind");
});

Deno.test("ReadBudget: cancelling a paused read ends it with the source, leaving no timer", async () => {
  const clock = new FakeClock();
  const budget = new ReadBudget(clock, { burstBytes: 10, bytesPerSecond: 1 });
  const source = chunks(5, 100);
  const reader = budget.throttle(source);
  await reader.read();
  const waiting = reader.read();
  await settle();
  await reader.cancel();
  deepEqual(await waiting, undefined);
  equal(source.cancelled, true);
  equal(clock.pendingTimers, 0);
});

Deno.test("ReadBudget refuses a burst or rate that is not positive", () => {
  const clock = new FakeClock();
  throws(() => new ReadBudget(clock, { burstBytes: 0 }), RangeError);
  throws(() => new ReadBudget(clock, { bytesPerSecond: 0 }), RangeError);
  throws(() => new ReadBudget(clock, { bytesPerSecond: Number.NaN }), RangeError);
});

Deno.test("ReadBudget: after end() a read is the source's own, with no wrapper of ours per read", async () => {
  const clock = new FakeClock();
  const budget = new ReadBudget(clock, { burstBytes: 4, bytesPerSecond: 1000 });
  const pending = new Promise<Uint8Array | undefined>(() => {});
  const source: ByteSource = { read: () => pending, cancel: () => Promise.resolve() };
  const throttled = budget.throttle(source);
  equal(throttled.read() === pending, false, "paced before end()");
  budget.end();
  equal(throttled.read(), pending, "the source's promise itself once the budget ended");
  await Promise.resolve();
});
