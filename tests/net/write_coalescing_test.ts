import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import type { ByteSink } from "../../lib/wire/byte_channel.ts";
import { WriteCoalescing } from "../../lib/net/_write_coalescing.ts";
import { Outbox } from "../../lib/server/outbox.ts";
import { FakeClock } from "../_fake_clock.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A connection's raw sink that records each write; `block` makes writes wait. */
function rawSink() {
  const writes: string[] = [];
  let blocked: PromiseWithResolvers<void> | undefined;
  let closed = false;
  const sink: ByteSink = {
    write(bytes) {
      writes.push(dec.decode(bytes));
      return blocked?.promise;
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  return {
    sink,
    writes,
    block() {
      blocked = Promise.withResolvers<void>();
    },
    unblock() {
      const was = blocked;
      blocked = undefined;
      was?.resolve();
    },
    fail(error: Error) {
      const was = blocked;
      blocked = undefined;
      was?.reject(error);
    },
    get closed() {
      return closed;
    },
  };
}

async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

Deno.test("a quiet connection's write goes out at once, without a timer", () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap(raw.sink);
  equal(sink.write(enc.encode("a\n")), undefined);
  deepEqual(raw.writes, ["a\n"]);
  equal(clock.pendingTimers, 0);
});

Deno.test("writes that follow within the window are gathered into one write when it ends", () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap(raw.sink);
  sink.write(enc.encode("a\n"));
  clock.advance(1);
  for (const line of ["b\n", "c\n", "d\n"]) equal(sink.write(enc.encode(line)), undefined);
  deepEqual(raw.writes, ["a\n"]);
  clock.advance(2);
  deepEqual(raw.writes, ["a\n", "b\nc\nd\n"]);
  // Quiet for a window again: the next write is immediate.
  clock.advance(5);
  sink.write(enc.encode("e\n"));
  deepEqual(raw.writes, ["a\n", "b\nc\nd\n", "e\n"]);
});

Deno.test("gathered bytes reaching the size limit go out without waiting for the window", () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2, maxBytes: 8 }).wrap(raw.sink);
  sink.write(enc.encode("a\n"));
  sink.write(enc.encode("bbb\n"));
  sink.write(enc.encode("ccc\n"));
  deepEqual(raw.writes, ["a\n", "bbb\nccc\n"]);
});

Deno.test("a write of a record's worth goes out at once, after what was gathered, uncopied", () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const writes: Uint8Array[] = [];
  const sink = new WriteCoalescing({ clock, windowMs: 2, maxBytes: 8 }).wrap({
    write: (bytes) => {
      writes.push(bytes);
      return raw.sink.write(bytes);
    },
    close: () => raw.sink.close(),
  });
  sink.write(enc.encode("a\n"));
  sink.write(enc.encode("b\n"));
  const big = enc.encode("0123456789\n");
  sink.write(big);
  deepEqual(raw.writes, ["a\n", "b\n", "0123456789\n"]);
  equal(writes[2], big, "the big write is handed on as it is");
});

Deno.test("one timer serves every busy connection of a WriteCoalescing", () => {
  const clock = new FakeClock();
  const coalescing = new WriteCoalescing({ clock, windowMs: 2 });
  const raws = Array.from({ length: 50 }, () => rawSink());
  const sinks = raws.map((raw) => coalescing.wrap(raw.sink));
  for (const sink of sinks) sink.write(enc.encode("x\n"));
  for (const sink of sinks) sink.write(enc.encode("y\n"));
  equal(clock.pendingTimers, 1);
  clock.advance(2);
  for (const raw of raws) deepEqual(raw.writes, ["x\n", "y\n"]);
  equal(clock.pendingTimers, 0);
});

Deno.test("while the socket is full every write makes its writer wait, and waits in one piece", async () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2, maxBytes: 8 }).wrap(raw.sink);
  raw.block();
  const first = sink.write(enc.encode("a\n"));
  ok(first instanceof Promise, "a write the socket did not take makes the writer wait");
  const second = sink.write(enc.encode("bbb\n"));
  ok(second instanceof Promise, "so its next bytes stay in its own bounded queue");
  clock.advance(10);
  deepEqual(raw.writes, ["a\n"], "nothing more is written while the socket is full");
  raw.unblock();
  await first;
  await second;
  deepEqual(raw.writes, ["a\n", "bbb\n"]);
  equal(sink.write(enc.encode("c\n")), undefined, "taken again once the socket drained");
});

Deno.test("close writes what was gathered, then closes the raw sink", async () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap(raw.sink);
  sink.write(enc.encode("a\n"));
  sink.write(enc.encode("bye\n"));
  await sink.close();
  deepEqual(raw.writes, ["a\n", "bye\n"]);
  ok(raw.closed);
});

Deno.test("a failed write is reported to the next writer and gathered bytes are dropped", async () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap(raw.sink);
  raw.block();
  const first = sink.write(enc.encode("a\n"))!;
  const second = sink.write(enc.encode("b\n"))!;
  raw.fail(new Deno.errors.BrokenPipe("socket closed"));
  await rejects(first, Deno.errors.BrokenPipe);
  await rejects(second, Deno.errors.BrokenPipe);
  await rejects(async () => await sink.write(enc.encode("c\n")), Deno.errors.BrokenPipe);
  deepEqual(raw.writes, ["a\n"]);
});

Deno.test("window 0 turns coalescing off; a bad window or size is refused", () => {
  const raw = rawSink();
  equal(new WriteCoalescing({ windowMs: 0 }).wrap(raw.sink), raw.sink);
  throws(() => new WriteCoalescing({ windowMs: -1 }), RangeError);
  throws(() => new WriteCoalescing({ windowMs: Number.NaN }), RangeError);
  throws(() => new WriteCoalescing({ maxBytes: 0 }), RangeError);
});

Deno.test("an outbox over a coalescing sink: a busy stream of deliveries costs one write per window", async () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap(raw.sink);
  const outbox = new Outbox(sink, { clock });
  let sent = "";
  for (let ms = 0; ms < 10; ms++) {
    // Two deliveries a millisecond, each in its own turn.
    for (let i = 0; i < 2; i++) {
      const line = `m${ms}.${i}\n`;
      sent += line;
      outbox.push(enc.encode(line));
      await turns();
    }
    clock.advance(1);
  }
  clock.advance(2);
  await turns();
  equal(raw.writes.join(""), sent, "every byte arrives, in order");
  ok(raw.writes.length <= 6, `20 deliveries in 10 ms took ${raw.writes.length} writes`);
  equal(outbox.queuedBytes, 0);
});

Deno.test("many busy connections stretch the window towards maxWindowMs, a few keep the short one", () => {
  const clock = new FakeClock();
  const coalescing = new WriteCoalescing({
    clock,
    windowMs: 2,
    maxWindowMs: 8,
    writesPerSecond: 10_000,
  });
  const raws = Array.from({ length: 100 }, () => rawSink());
  const sinks = raws.map((raw) => coalescing.wrap(raw.sink));
  for (const sink of sinks) sink.write(enc.encode("x\n"));
  for (const sink of sinks) sink.write(enc.encode("y\n"));
  equal(coalescing.windowMs, 2, "the short window until a window ends");
  clock.advance(2);
  // 100 busy connections writing once a window: 8 ms keeps them near 12,500 writes/s.
  equal(coalescing.windowMs, 8);
  clock.advance(20);
  for (const sink of sinks.slice(0, 5)) sink.write(enc.encode("z\n"));
  for (const sink of sinks.slice(0, 5)) sink.write(enc.encode("w\n"));
  clock.advance(8);
  equal(coalescing.windowMs, 2, "5 busy connections: back to the short window");
  for (const raw of raws.slice(0, 5)) deepEqual(raw.writes, ["x\n", "y\n", "z\n", "w\n"]);
});

Deno.test("100 busy connections with a delivery every millisecond: about one write per long window, none waits longer", () => {
  const clock = new FakeClock();
  const coalescing = new WriteCoalescing({ clock, windowMs: 2, maxWindowMs: 8 });
  const raws = Array.from({ length: 100 }, () => rawSink());
  const sinks = raws.map((raw) => coalescing.wrap(raw.sink));
  for (let ms = 0; ms < 200; ms++) {
    for (const sink of sinks) sink.write(enc.encode(`${ms}\n`));
    clock.advance(1);
  }
  clock.advance(8);
  const writes = raws.reduce((sum, raw) => sum + raw.writes.length, 0);
  // A fixed 2 ms window: 100 connections × 200 ms / 2 ms = 10,000 writes.
  ok(writes <= 100 * (200 / 8 + 3), `${writes} writes for 20,000 deliveries`);
  for (const raw of raws) {
    equal(raw.writes.join(""), Array.from({ length: 200 }, (_, ms) => `${ms}\n`).join(""));
    // Each write holds at most one long window's deliveries: none waited longer.
    for (const write of raw.writes) ok(write.split("\n").length - 1 <= 8, write);
  }
});

Deno.test("a write flushes what waits past its window when the timer is late (a busy event loop)", () => {
  // Time moves, but the timer never fires: as on Deno while sockets keep the loop busy.
  const timers = new FakeClock();
  let now = 0;
  const clock = {
    now: () => now,
    setTimeout: timers.setTimeout.bind(timers),
    clearTimeout: timers.clearTimeout.bind(timers),
    setInterval: timers.setInterval.bind(timers),
    clearInterval: timers.clearInterval.bind(timers),
  };
  const coalescing = new WriteCoalescing({ clock, windowMs: 2, maxWindowMs: 2 });
  const a = rawSink();
  const b = rawSink();
  const sinkA = coalescing.wrap(a.sink);
  const sinkB = coalescing.wrap(b.sink);
  sinkA.write(enc.encode("a1\n"));
  sinkB.write(enc.encode("b1\n"));
  now = 1;
  sinkA.write(enc.encode("a2\n")); // gathered: its window ends at 3
  now = 2;
  sinkB.write(enc.encode("b2\n"));
  deepEqual(a.writes, ["a1\n"]);
  now = 30; // the timer is 27 ms late
  sinkB.write(enc.encode("b3\n"));
  deepEqual(a.writes, ["a1\n", "a2\n"], "another connection's write flushed it");
  deepEqual(b.writes, ["b1\n", "b2\n", "b3\n"]);
  equal(timers.pendingTimers, 0, "the late timer is cancelled");
});

/** Runs `body`, counting the bytes of every `new Uint8Array(length)` made meanwhile. */
async function allocatedBytes(body: () => Promise<void>): Promise<number> {
  const original = globalThis.Uint8Array;
  let bytes = 0;
  globalThis.Uint8Array = new Proxy(original, {
    construct(target, args, newTarget) {
      if (typeof args[0] === "number") bytes += args[0];
      return Reflect.construct(target, args, newTarget);
    },
  });
  try {
    await body();
  } finally {
    globalThis.Uint8Array = original;
  }
  return bytes;
}

Deno.test("an outbox over a coalescing sink copies a delivery once: several frames a turn, several turns a window", async () => {
  const clock = new FakeClock();
  const raw = rawSink();
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap(raw.sink);
  const outbox = new Outbox(sink, { clock });
  const frames = Array.from({ length: 60 }, (_, i) => enc.encode(`delivery ${i}\n`));
  const sentBytes = frames.reduce((sum, frame) => sum + frame.length, 0);
  const allocated = await allocatedBytes(async () => {
    for (let turn = 0; turn < 20; turn++) {
      // Three deliveries a turn (a read carried three messages), a turn every 0.5 ms.
      for (const frame of frames.slice(turn * 3, turn * 3 + 3)) outbox.push(frame);
      await turns();
      if (turn % 2 === 1) clock.advance(1);
    }
    clock.advance(2);
    await turns();
  });
  equal(raw.writes.join(""), frames.map((frame) => dec.decode(frame)).join(""));
  ok(raw.writes.length <= 6, `${raw.writes.length} writes`);
  ok(
    allocated <= sentBytes,
    `${allocated} bytes allocated to write ${sentBytes}: each delivery copied more than once`,
  );
  equal(outbox.queuedBytes, 0);
});

Deno.test("a raw sink that takes parts gets the gathered writes as parts, not joined", () => {
  const clock = new FakeClock();
  const given: { parts: readonly Uint8Array[]; size: number }[] = [];
  const joinedWrites: Uint8Array[] = [];
  const sink = new WriteCoalescing({ clock, windowMs: 2 }).wrap({
    write: (bytes) => void joinedWrites.push(bytes),
    writeParts: (parts, size) => void given.push({ parts, size }),
    close: () => Promise.resolve(),
  });
  const a = enc.encode("a\n");
  sink.write(a); // quiet: at once, one part, through write()
  const lines = ["b\n", "c\n", "d\n"].map((line) => enc.encode(line));
  for (const line of lines) sink.write(line);
  clock.advance(2);
  deepEqual(joinedWrites, [a]);
  equal(given.length, 1);
  equal(given[0]!.size, 6);
  deepEqual(given[0]!.parts, lines);
  ok(given[0]!.parts.every((part, i) => part === lines[i]), "the callers' own buffers, uncopied");
});
