/**
 * NativeWrites against a stand-in handle that misbehaves in ways Deno
 * 2.9.6's never did in probes (a completion called twice, or at once inside
 * the call): one write stays in flight and every byte goes out once, in order.
 *
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { NativeWrites } from "../../lib/net/_native_writes.ts";

type Completion = "twice" | "inside the call";

interface Request {
  oncomplete(status: number): void;
}

/** A handle that records what it was given and completes as `mode` says. */
function misbehavingHandle(mode: Completion) {
  const written: number[] = [];
  let outstanding = 0;
  let mostOutstanding = 0;
  const take = (request: Request, parts: readonly Uint8Array[]) => {
    outstanding++;
    mostOutstanding = Math.max(mostOutstanding, outstanding);
    for (const part of parts) written.push(...part);
    const complete = () => {
      outstanding = Math.max(0, outstanding - 1);
      request.oncomplete(0);
    };
    if (mode === "inside the call") {
      complete();
    } else {
      queueMicrotask(() => {
        complete();
        request.oncomplete(0); // once more, for a write already done
      });
    }
    return 0;
  };
  return {
    handle: {
      writeBuffer: (request: Request, bytes: Uint8Array) => take(request, [bytes]),
      writev: (request: Request, parts: readonly Uint8Array[]) => take(request, parts),
    },
    written,
    mostOutstanding: () => mostOutstanding,
  };
}

for (const mode of ["twice", "inside the call"] as const) {
  Deno.test(`NativeWrites: a handle that completes ${mode} gets one write at a time, every byte once and in order`, async () => {
    const { handle, written, mostOutstanding } = misbehavingHandle(mode);
    const socket = Object.assign(new EventEmitter(), {
      destroyed: false,
      writableHighWaterMark: 64,
      destroy() {
        this.destroyed = true;
      },
    }) as unknown as Socket;
    const writes = new NativeWrites(socket, handle);
    const sent: number[] = [];
    let next = 0;
    for (let turn = 0; turn < 200; turn++) {
      const parts = Array.from(
        { length: 1 + (turn % 3) },
        () => new Uint8Array([next++ & 255, next++ & 255]),
      );
      for (const part of parts) sent.push(...part);
      const answer = writes.writeParts(parts, parts.length * 2);
      ok(typeof answer !== "symbol", "the stand-in takes native writes");
      if (answer !== undefined) await answer;
      else if (turn % 7 === 0) await Promise.resolve();
    }
    await writes.flushed();
    equal(mostOutstanding(), 1, "never two writes on the handle at once");
    equal(written.length, sent.length, "every byte once");
    ok(written.every((byte, i) => byte === sent[i]), "in order");
  });
}

Deno.test("NativeWrites: behind a write that never completes, small views of 4 KiB buffers fill the mark by the memory they hold, not by their bytes", () => {
  const requests: Request[] = [];
  const handle = {
    writeBuffer: (request: Request) => requests.push(request) && 0,
    writev: (request: Request) => requests.push(request) && 0,
  };
  const socket = Object.assign(new EventEmitter(), {
    destroyed: false,
    writableHighWaterMark: 64 * 1024,
    destroy() {
      this.destroyed = true;
    },
  }) as unknown as Socket;
  const writes = new NativeWrites(socket, handle);
  // The first write goes onto the handle and stays there (a silent peer).
  equal(writes.writeParts([new Uint8Array(30)], 30), undefined);
  let taken = 0;
  let answer: ReturnType<NativeWrites["writeParts"]>;
  do {
    // A 30-byte frame seen through a view of its own 4 KiB chunk.
    answer = writes.writeParts([new Uint8Array(new ArrayBuffer(4096), 0, 30)], 30);
    if (answer === undefined) taken++;
  } while (answer === undefined && taken < 10_000);
  ok(answer instanceof Promise, "the writer is told to wait");
  ok(taken * 4096 <= 64 * 1024, `${taken} views taken, holding ${taken * 4} KiB`);
  equal(requests.length, 1, "still one write on the handle");
  answer.catch(() => undefined);
  writes.fail();
});
