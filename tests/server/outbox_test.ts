import { deepEqual, equal, ok } from "node:assert/strict";
import { type ByteSink, streamSink } from "../../lib/wire/byte_channel.ts";
import {
  BACKLOG_CHUNK_BYTES,
  CHUNK_BYTES,
  FRAME_OVERHEAD_BYTES,
  GATHER_FRAMES,
  Outbox,
  SMALL_FRAME_BYTES,
} from "../../lib/server/outbox.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";

function sink(): { writable: WritableStream<Uint8Array>; log: string[] } {
  const log: string[] = [];
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      log.push(`write ${new TextDecoder().decode(chunk)}`);
    },
  });
  return { writable, log };
}

Deno.test("Outbox coalesces frames queued in one turn into one write, after beforeWrite", async () => {
  const { writable, log } = sink();
  const outbox = new Outbox(streamSink(writable), { beforeWrite: () => log.push("commit") });
  const enc = new TextEncoder();
  outbox.push(enc.encode("a\n"));
  outbox.push(enc.encode("b\n"));
  await outbox.close();
  deepEqual(log, ["commit", "write a\nb\n"]);
});

Deno.test("Outbox lets a burst pass the soft bound, but not the hard one", () => {
  let overflowed = 0;
  const never = new WritableStream<Uint8Array>({ write: () => new Promise(() => {}) });
  const outbox = new Outbox(streamSink(never), {
    maxBytes: 10_000,
    hardMaxBytes: 40_000,
    stallMs: 60_000,
    onOverflow: () => overflowed++,
  });
  equal(outbox.push(new Uint8Array(30_000)), true, "over the soft bound is fine for a while");
  equal(overflowed, 0);
  // 30,000 + 9,000 bytes, plus the overhead of two buffers, pass 40,000.
  equal(outbox.push(new Uint8Array(9_000)), false, "past the hard bound");
  equal(overflowed, 1);
  equal(outbox.push(new Uint8Array(1)), false, "closed after overflow");
});

Deno.test("Outbox writes a frame pushed at any moment while the previous flush finishes", async () => {
  // Push the second frame k microtask turns after the first write completes,
  // for every k up to well past the flush's own bookkeeping: none may stall.
  for (let k = 0; k < 30; k++) {
    const written: string[] = [];
    let release: () => void = () => {};
    const outbox = new Outbox(
      streamSink(
        new WritableStream<Uint8Array>({
          write(chunk) {
            written.push(new TextDecoder().decode(chunk));
            if (written.length === 1) return new Promise<void>((r) => release = r);
          },
        }),
      ),
    );
    outbox.push(new TextEncoder().encode("1"));
    while (written.length === 0) await Promise.resolve();
    release();
    for (let i = 0; i < k; i++) await Promise.resolve();
    outbox.push(new TextEncoder().encode("2"));
    for (let i = 0; i < 50 && written.length < 2; i++) await Promise.resolve();
    deepEqual(written, ["1", "2"], `pushed ${k} turns after the write`);
    await outbox.close();
  }
});

Deno.test("Outbox keeps writing through a sink that takes every write at once", async () => {
  const written: string[] = [];
  const outbox = new Outbox({
    write(bytes) {
      written.push(new TextDecoder().decode(bytes));
      return undefined;
    },
    close: () => Promise.resolve(),
  });
  for (const frame of ["a", "b", "c"]) {
    outbox.push(new TextEncoder().encode(frame));
    await Promise.resolve(); // each frame in its own turn: three separate flushes
  }
  await outbox.close();
  deepEqual(written, ["a", "b", "c"]);
});

/** A sink whose writes stay pending until released, one by one. */
function heldSink(): { sink: ByteSink; release(): void; closed: () => boolean } {
  const pending: Array<() => void> = [];
  let closed = false;
  return {
    sink: {
      write: () => new Promise<void>((resolve) => pending.push(resolve)),
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    },
    release: () => pending.shift()?.(),
    closed: () => closed,
  };
}

Deno.test("Outbox drops a peer that stays over the soft bound for stallMs, on its clock", () => {
  const clock = new FakeClock();
  const { sink } = heldSink();
  let overflowed = 0;
  const outbox = new Outbox(sink, {
    maxBytes: 10_000,
    stallMs: 5000,
    clock,
    onOverflow: () => overflowed++,
  });
  equal(outbox.push(new Uint8Array(30_000)), true);
  clock.advance(4999);
  equal(overflowed, 0, "not before stallMs");
  equal(outbox.closed, false);
  clock.advance(1);
  equal(overflowed, 1);
  equal(outbox.closed, true);
  equal(outbox.push(new Uint8Array(1)), false, "closed after overflow");
  equal(clock.pendingTimers, 0);
});

Deno.test("Outbox keeps a peer whose queue comes back under the soft bound before stallMs", async () => {
  const clock = new FakeClock();
  const held = heldSink();
  let overflowed = 0;
  const outbox = new Outbox(held.sink, {
    maxBytes: 10_000,
    stallMs: 5000,
    clock,
    onOverflow: () => overflowed++,
  });
  outbox.push(new Uint8Array(30_000));
  await Promise.resolve(); // the flush starts and its write is held
  equal(clock.pendingTimers, 1, "the stall timer runs while over the bound");
  clock.advance(4000);
  held.release();
  for (let i = 0; i < 5 && outbox.queuedBytes > 0; i++) await Promise.resolve();
  equal(outbox.queuedBytes, 0);
  equal(clock.pendingTimers, 0, "draining clears the stall timer");
  clock.advance(60_000);
  equal(overflowed, 0);
  equal(outbox.closed, false);
});

Deno.test("Outbox.close() gives up on a peer that does not read after its timeout, on its clock", async () => {
  const clock = new FakeClock();
  const held = heldSink();
  const outbox = new Outbox(held.sink, { clock });
  outbox.push(new TextEncoder().encode("never read\n"));
  let done = false;
  const closing = outbox.close(new TextEncoder().encode("bye\n"), 2000).then(() => done = true);
  await clock.tick(1999);
  equal(done, false, "still waiting before the timeout");
  await clock.tick(1);
  await within(closing, 1000, "close() to give up at its fake-time deadline");
  equal(done, true);
  equal(held.closed(), false, "the stalled sink is not closed politely");
  equal(clock.pendingTimers, 0);
});

const pong = (id: number) => new TextEncoder().encode(`{"type":"pong","id":${id}}\n`);

/** A sink whose first write stays pending until released; later ones are taken at once. */
function firstWriteHeld(): { sink: ByteSink; written: string[]; release(): void } {
  const written: string[] = [];
  let release = () => {};
  return {
    written,
    release: () => release(),
    sink: {
      write(bytes) {
        written.push(new TextDecoder().decode(bytes));
        if (written.length > 1) return undefined;
        return new Promise<void>((resolve) => release = resolve);
      },
      close: () => Promise.resolve(),
    },
  };
}

Deno.test("Outbox charges each frame it holds its overhead on top of its bytes", async () => {
  const held = firstWriteHeld();
  const outbox = new Outbox(held.sink);
  outbox.push(new Uint8Array(1000));
  await Promise.resolve(); // the first write is held
  const size = SMALL_FRAME_BYTES + 1;
  for (let i = 0; i < 10; i++) outbox.push(new Uint8Array(size));
  equal(outbox.queuedBuffers, 10);
  equal(outbox.queuedBytes, 1000 + 11 * FRAME_OVERHEAD_BYTES + 10 * size);
  held.release();
  await outbox.close();
  equal(outbox.queuedBytes, 0);
});

Deno.test("Outbox copies small frames into shared chunks: 10,000 pongs are held in a few buffers, in order", async () => {
  const held = firstWriteHeld();
  const outbox = new Outbox(held.sink);
  outbox.push(pong(-1));
  await Promise.resolve(); // the first write is held
  let payload = 0;
  for (let i = 0; i < 10_000; i++) {
    const frame = pong(i);
    payload += frame.length;
    outbox.push(frame);
  }
  const chunks = Math.ceil(payload / (CHUNK_BYTES - SMALL_FRAME_BYTES));
  ok(outbox.queuedBuffers <= chunks, `${outbox.queuedBuffers} buffers for ${payload} bytes`);
  ok(outbox.queuedBytes >= payload, "the charge covers the bytes");
  ok(
    outbox.queuedBytes <= (chunks + 1) * (CHUNK_BYTES + FRAME_OVERHEAD_BYTES),
    "and what the chunks hold",
  );
  held.release();
  await outbox.close();
  const lines = held.written.join("").trimEnd().split("\n");
  deepEqual(lines, Array.from({ length: 10_001 }, (_, i) => `{"type":"pong","id":${i - 1}}`));
});

Deno.test("Outbox.pushLatest() keeps one unsent frame per slot: the newest, after what was queued before it", async () => {
  const held = firstWriteHeld();
  const outbox = new Outbox(held.sink);
  outbox.pushLatest("pong", pong(0)); // written at once (held): already sent
  await Promise.resolve();
  for (let i = 1; i <= 1000; i++) outbox.pushLatest("pong", pong(i));
  equal(outbox.queuedBuffers, 1, "one pong waits, the others were replaced");
  equal(outbox.queuedBytes, 2 * FRAME_OVERHEAD_BYTES + pong(0).length + pong(1000).length);
  outbox.push(new TextEncoder().encode("message\n"));
  outbox.pushLatest("pong", pong(1001));
  held.release();
  await outbox.close();
  deepEqual(held.written.join("").trimEnd().split("\n"), [
    `{"type":"pong","id":0}`,
    "message",
    `{"type":"pong","id":1001}`,
  ]);
});

Deno.test("Outbox.pushLatest() replaces a waiting frame that others were queued after", async () => {
  const held = firstWriteHeld();
  const outbox = new Outbox(held.sink);
  outbox.push(new Uint8Array(SMALL_FRAME_BYTES + 1).fill(0x61));
  await Promise.resolve();
  outbox.pushLatest("pong", pong(1));
  const big = new Uint8Array(SMALL_FRAME_BYTES + 1).fill(0x62);
  big[big.length - 1] = 0x0a;
  outbox.push(big);
  outbox.pushLatest("pong", pong(2));
  equal(outbox.queuedBuffers, 2);
  held.release();
  await outbox.close();
  const [, ...rest] = held.written;
  deepEqual(rest.join("").trimEnd().split("\n"), [
    "b".repeat(SMALL_FRAME_BYTES),
    `{"type":"pong","id":2}`,
  ]);
});

Deno.test("Outbox writes the one small frame of a quiet queue as it is, uncopied; more in the same turn share a chunk", async () => {
  const writes: Uint8Array[] = [];
  const outbox = new Outbox({
    write: (bytes) => void writes.push(bytes),
    close: () => Promise.resolve(),
  });
  const enc = new TextEncoder();
  const shared = enc.encode("one delivery, shared by every receiver\n");
  outbox.push(shared);
  await Promise.resolve();
  equal(writes.length, 1);
  equal(writes[0], shared, "the frame itself, not a copy in a 4 KiB chunk");
  outbox.push(enc.encode("a\n"));
  outbox.push(enc.encode("b\n"));
  outbox.push(enc.encode("c\n"));
  await outbox.close();
  deepEqual(writes.slice(1).map((w) => new TextDecoder().decode(w)), ["a\nb\nc\n"]);
});

Deno.test("Outbox holds a turn's few small frames as they are and joins them once at the flush: charged per frame, no 4 KiB chunk", async () => {
  const writes: Uint8Array[] = [];
  const outbox = new Outbox({
    write: (bytes) => void writes.push(bytes),
    close: () => Promise.resolve(),
  });
  const enc = new TextEncoder();
  outbox.push(enc.encode("a\n"));
  outbox.push(enc.encode("b\n"));
  equal(outbox.queuedBuffers, 2);
  equal(
    outbox.queuedBytes,
    2 * (2 + FRAME_OVERHEAD_BYTES),
    "each frame's bytes and overhead, no chunk",
  );
  await Promise.resolve();
  equal(writes.length, 1);
  equal(new TextDecoder().decode(writes[0]), "a\nb\n");
  equal(writes[0]!.buffer.byteLength, 4, "one buffer of their size");
  equal(outbox.queuedBytes, 0);
  // More than GATHER_FRAMES in one turn: they all move into one shared chunk.
  for (let i = 0; i < GATHER_FRAMES + 3; i++) outbox.push(enc.encode(`${i}\n`));
  equal(outbox.queuedBuffers, 1);
  equal(outbox.queuedBytes, CHUNK_BYTES + FRAME_OVERHEAD_BYTES);
  await outbox.close();
  equal(
    writes.slice(1).map((w) => new TextDecoder().decode(w)).join(""),
    Array.from({ length: GATHER_FRAMES + 3 }, (_, i) => `${i}\n`).join(""),
  );
  equal(writes[1]!.buffer.byteLength, CHUNK_BYTES, "the chunk, written as it is");
});

/**
 * A sink that holds every write until `releaseOne()`; it takes parts as they
 * are, as the write coalescing does, and records what it took.
 */
function everyWriteHeld() {
  const written: Uint8Array[] = [];
  const waiting: (() => void)[] = [];
  return {
    written,
    /** Let the oldest held write finish; resolves after the outbox went on. */
    async releaseOne(): Promise<void> {
      waiting.shift()?.();
      await Promise.resolve();
      await Promise.resolve();
    },
    sink: {
      write(bytes: Uint8Array): Promise<void> {
        written.push(bytes);
        return new Promise<void>((resolve) => waiting.push(resolve));
      },
      writeParts(parts: readonly Uint8Array[]): Promise<void> {
        written.push(...parts);
        return new Promise<void>((resolve) => waiting.push(resolve));
      },
      close: () => Promise.resolve(),
    } satisfies ByteSink,
  };
}

Deno.test("Outbox keeps a backlog's small frames in one chunk across writes: 2,400 deliveries over 200 writes use a few chunks, charged in full", async () => {
  const held = everyWriteHeld();
  const outbox = new Outbox(held.sink);
  const enc = new TextEncoder();
  const frame = (i: number) => enc.encode(`${String(i).padStart(5, "0")} ${"x".repeat(150)}\n`);
  outbox.push(frame(0)); // written at once, held: from now on every frame waits on a write
  await Promise.resolve();
  let next = 1;
  let unwritten = 0;
  for (let turn = 0; turn < 200; turn++) {
    for (let i = 0; i < GATHER_FRAMES + 4; i++) {
      const bytes = frame(next++);
      unwritten += bytes.length;
      outbox.push(bytes);
    }
    ok(outbox.queuedBytes >= unwritten, "the charge covers what waits");
    ok(
      outbox.queuedBytes <= unwritten + 2 * (BACKLOG_CHUNK_BYTES + FRAME_OVERHEAD_BYTES) + 1024,
      `and not much more: ${outbox.queuedBytes} for ${unwritten}`,
    );
    await held.releaseOne(); // the write before is done: what waits goes out
    unwritten = 0;
  }
  await held.releaseOne();
  equal(outbox.queuedBytes, 0, "every chunk's charge is released once written");
  const buffers = new Set(held.written.slice(1).map((bytes) => bytes.buffer));
  // Before: each write took its frames out of a chunk and the next frame
  // allocated a new 4 KiB chunk (200 chunks); now the chunk fills on.
  ok(buffers.size <= 30, `${buffers.size} chunks for ${held.written.length - 1} parts`);
  const lines = new TextDecoder().decode(concat(held.written)).trimEnd().split("\n");
  deepEqual(
    lines.map((line) => Number(line.slice(0, 5))),
    Array.from({ length: next }, (_, i) => i),
  );
  await outbox.close();
});

Deno.test("Outbox holds the few frames behind a write in flight as they are: no chunk, each charged", async () => {
  const held = everyWriteHeld();
  const outbox = new Outbox(held.sink);
  const enc = new TextEncoder();
  outbox.push(enc.encode("first\n"));
  await Promise.resolve();
  const a = enc.encode("a\n");
  const b = enc.encode("b\n");
  outbox.push(a);
  outbox.push(b);
  equal(outbox.queuedBytes, 6 + 2 + 2 + 3 * FRAME_OVERHEAD_BYTES);
  await held.releaseOne();
  equal(outbox.queuedBuffers, 0, "a and b are in flight");
  equal(outbox.queuedBytes, 2 + 2 + 2 * FRAME_OVERHEAD_BYTES);
  equal(held.written[1], a, "handed on as they are, not copied");
  equal(held.written[2], b);
  await held.releaseOne();
  equal(outbox.queuedBytes, 0);
  await outbox.close();
});

Deno.test("Outbox lets go of a backlog's chunk when its queue drains: a quiet connection holds no chunk", async () => {
  const held = everyWriteHeld();
  const outbox = new Outbox(held.sink);
  const enc = new TextEncoder();
  const many = (tag: string) =>
    Array.from({ length: GATHER_FRAMES + 1 }, (_, i) => enc.encode(`${tag}${i}\n`));
  outbox.push(enc.encode("first\n"));
  await Promise.resolve();
  for (const frame of many("a")) outbox.push(frame); // one more than are held as they are
  equal(outbox.queuedBytes, 6 + FRAME_OVERHEAD_BYTES + CHUNK_BYTES + FRAME_OVERHEAD_BYTES);
  await held.releaseOne();
  equal(outbox.queuedBuffers, 0, "the chunk's frames are in flight");
  equal(outbox.queuedBytes, CHUNK_BYTES + FRAME_OVERHEAD_BYTES, "the chunk they are a view of");
  await held.releaseOne();
  equal(outbox.queuedBytes, 0, "let go of");
  // The next backlog starts with a small chunk again.
  outbox.push(enc.encode("second\n"));
  await Promise.resolve();
  for (const frame of many("b")) outbox.push(frame);
  equal(outbox.queuedBytes, 7 + FRAME_OVERHEAD_BYTES + CHUNK_BYTES + FRAME_OVERHEAD_BYTES);
  await held.releaseOne();
  await held.releaseOne();
  equal(outbox.queuedBytes, 0);
  deepEqual(held.written.map((bytes) => new TextDecoder().decode(bytes)), [
    "first\n",
    many("a").map((frame) => new TextDecoder().decode(frame)).join(""),
    "second\n",
    many("b").map((frame) => new TextDecoder().decode(frame)).join(""),
  ]);
  await outbox.close();
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
