import { deepEqual, equal } from "node:assert/strict";
import { streamSink } from "../../lib/wire/byte_channel.ts";
import { Outbox } from "../../lib/server/outbox.ts";

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
    maxBytes: 10,
    hardMaxBytes: 40,
    stallMs: 60_000,
    onOverflow: () => overflowed++,
  });
  equal(outbox.push(new Uint8Array(30)), true, "over the soft bound is fine for a while");
  equal(overflowed, 0);
  equal(outbox.push(new Uint8Array(11)), false, "past the hard bound");
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
