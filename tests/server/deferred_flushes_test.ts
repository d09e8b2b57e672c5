import { deepEqual, equal, ok, throws } from "node:assert/strict";
import type { ByteSink } from "../../lib/wire/byte_channel.ts";
import { DeferredFlushes } from "../../lib/server/deferred_flushes.ts";
import { CHUNK_BYTES, FRAME_OVERHEAD_BYTES, Outbox } from "../../lib/server/outbox.ts";
import { FakeClock } from "../_fake_clock.ts";
import type { Connection } from "../../lib/net/connection.ts";
import type { Member } from "../../lib/chat/message.ts";
import { Session, type SessionHub } from "../../lib/server/session.ts";
import { RIGHT_PASSWORD, stubAuth } from "../fuzz/_memory_session.ts";

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

Deno.test("a session sends a busy member's joins with one write per window, messages at once", async () => {
  const clock = new FakeClock();
  const enc = new TextEncoder();
  const input = [
    enc.encode(`${JSON.stringify({ type: "hello", version: 1 })}\n`),
    enc.encode(`${JSON.stringify({ type: "login", username: "bob", password: RIGHT_PASSWORD })}\n`),
  ];
  let wake: (() => void) | undefined;
  let open = true;
  const writes: string[] = [];
  const conn: Connection = {
    peer: { address: "192.0.2.1", port: 40000 },
    source: {
      async read() {
        while (input.length === 0 && open) await new Promise<void>((resolve) => wake = resolve);
        return input.shift();
      },
      cancel() {
        open = false;
        wake?.();
        return Promise.resolve();
      },
    },
    sink: { write: (bytes) => void writes.push(dec.decode(bytes)), close: () => Promise.resolve() },
    close() {
      open = false;
      wake?.();
    },
  };
  const entered = Promise.withResolvers<Member>();
  const hub: SessionHub = {
    isBanned: () => false,
    enter(member) {
      entered.resolve(member);
      return { input() {}, request: () => ({ ok: true }), leave() {} };
    },
  };
  const session = new Session(conn, {
    hub,
    auth: stubAuth,
    clock,
    serverName: "banter/test",
    requirePassword: false,
    deferrals: new DeferredFlushes({ windowMs: 100, clock }),
    limits: { maxFrameBytes: 4096, outboxBytes: 64 * 1024, loginTimeoutMs: 60_000 },
  });
  const running = session.run();
  const bob = await entered.promise;
  await settle();
  const message = {
    kind: "message",
    id: 1,
    room: "lobby",
    from: "ann",
    text: "hi",
    ts: 0,
  } as const;
  bob.deliver(message);
  await settle();
  const before = writes.length;
  for (let i = 0; i < 10; i++) {
    clock.advance(5);
    bob.deliver({ kind: "join", room: "lobby", user: `u${i}`, ts: 0 });
    await settle();
  }
  equal(writes.length, before, "joins wait while the window runs");
  clock.advance(100);
  await settle();
  equal(writes.length, before + 1, "ten joins, one write");
  equal(writes.at(-1)!.split("\n").filter((line) => line.includes('"join"')).length, 10);
  bob.deliver({ ...message, id: 2 });
  await settle();
  equal(writes.length, before + 2, "a message is not held");
  session.terminate("end", "Bye");
  await running;
});
