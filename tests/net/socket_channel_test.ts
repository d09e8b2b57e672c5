import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as tls from "node:tls";
import type { Socket } from "node:net";
import { SocketChannel } from "../../lib/net/_node_engine.ts";
import { testPki, WAIT_MS, within } from "../_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A node:tls server socket and the Deno TLS client at its other end, on 127.0.0.1. */
async function tlsPair() {
  const pki = await testPki();
  const accepted = Promise.withResolvers<tls.TLSSocket>();
  const server = tls.createServer({ cert: pki.server.cert, key: pki.server.key }, (socket) => {
    socket.on("error", () => undefined);
    accepted.resolve(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const client = await Deno.connectTls({ hostname: "localhost", port, caCerts: [pki.ca.cert] });
  const socket = await within(accepted.promise, WAIT_MS, "the accepted socket");
  return {
    socket,
    client,
    /** Everything the client receives until the server ends the connection. */
    async readAll(): Promise<Uint8Array> {
      const chunks: Uint8Array[] = [];
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await client.read(buffer).catch(() => null);
        if (n === null) break;
        chunks.push(buffer.slice(0, n));
      }
      const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      return all;
    },
    async [Symbol.asyncDispose]() {
      socket.destroy();
      try {
        client.close();
      } catch {
        // already closed by the test
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `count` lines of about `size` bytes, each numbered, as bytes. */
function lines(count: number, size: number): Uint8Array[] {
  const pad = "x".repeat(Math.max(0, size - 8));
  return Array.from({ length: count }, (_, i) => enc.encode(`${i} ${pad}\n`));
}

/** Write `sent` in one turn until a write answers with a promise (the channel is full). */
function burst(channel: SocketChannel, sent: readonly Uint8Array[]) {
  for (let taken = 0; taken < sent.length; taken++) {
    const answer = channel.write(sent[taken]!);
    if (answer !== undefined) return { taken: taken + 1, pending: answer };
  }
  throw new Error("Cannot fill the channel: every write was taken at once");
}

function joinedText(parts: readonly Uint8Array[]): string {
  return parts.map((part) => dec.decode(part)).join("");
}

for (const native of [true, false]) {
  const path = native ? "native handle" : "socket.write";

  Deno.test(`SocketChannel (${path}): 10,000 writes and parts arrive whole and in order`, async () => {
    await using pair = await tlsPair();
    const channel = new SocketChannel(pair.socket, { nativeWrites: native });
    equal(channel.native, native, native ? "Deno's TLSWrap offers writeBuffer and writev" : "");
    const sent = lines(10_000, 40);
    const reading = pair.readAll();
    for (let i = 0; i < sent.length; i += 2) {
      // A single write, then two parts of the next line (cut in the middle).
      const next = sent[i + 1]!;
      const a = channel.write(sent[i]!);
      const b = channel.writeParts([next.subarray(0, 3), next.subarray(3)], next.length);
      if (a) await a;
      if (b) await b;
    }
    await channel.close();
    const got = dec.decode(await within(reading, WAIT_MS, "everything"));
    equal(got.length, joinedText(sent).length);
    ok(got === joinedText(sent), "every byte in order");
  });

  Deno.test(`SocketChannel (${path}): a burst past the high-water mark gets a promise that settles once the peer read it`, async () => {
    await using pair = await tlsPair();
    const channel = new SocketChannel(pair.socket, { nativeWrites: native });
    const sent = lines(64, 16 * 1024); // 1 MiB, 16 times the mark
    const { taken, pending } = burst(channel, sent);
    ok(taken > 0, "the first writes are taken at once");
    ok(
      taken * 16 * 1024 <= pair.socket.writableHighWaterMark + 16 * 1024,
      `a promise once the mark is reached (after ${taken} writes)`,
    );
    const reading = pair.readAll();
    await within(pending, WAIT_MS, "the drain");
    for (const line of sent.slice(taken)) await channel.write(line);
    await channel.close();
    ok(dec.decode(await within(reading, WAIT_MS, "everything")) === joinedText(sent), "in order");
  });

  Deno.test(`SocketChannel (${path}): a socket destroyed mid-write rejects the pending write and every later one`, async () => {
    await using pair = await tlsPair();
    const channel = new SocketChannel(pair.socket, { nativeWrites: native });
    const { pending } = burst(channel, lines(64, 16 * 1024));
    pair.socket.destroy();
    await rejects(within(pending, WAIT_MS, "the rejection"), Deno.errors.BrokenPipe);
    await rejects(Promise.resolve(channel.write(enc.encode("late\n"))), Deno.errors.BrokenPipe);
    await rejects(
      Promise.resolve(channel.writeParts([enc.encode("la"), enc.encode("te\n")], 5)),
      Deno.errors.BrokenPipe,
    );
  });

  Deno.test(`SocketChannel (${path}): after the peer closed, writes reject instead of throwing`, async () => {
    await using pair = await tlsPair();
    const channel = new SocketChannel(pair.socket, { nativeWrites: native });
    const closed = new Promise<void>((resolve) => pair.socket.once("close", () => resolve()));
    pair.client.close();
    equal(await within(channel.read(), WAIT_MS, "the end"), undefined);
    await within(closed, WAIT_MS, "the close");
    await rejects(Promise.resolve(channel.write(enc.encode("anyone?\n"))), Deno.errors.BrokenPipe);
  });
}

/** The socket's native handle (Deno 2.9.6: a TLSWrap), to watch its calls. */
function handleOf(socket: Socket): Record<string, unknown> {
  return (socket as unknown as { _handle: Record<string, unknown> })._handle;
}

/** Counts the calls on the socket's native handle and on `socket.write`. */
function countCalls(socket: Socket) {
  const handle = handleOf(socket);
  const calls = { writeBuffer: 0, writev: 0, partsInWritev: [] as number[], socketWrite: 0 };
  const writeBuffer = handle.writeBuffer as (...args: unknown[]) => number;
  const writev = handle.writev as (req: unknown, parts: unknown[], all: boolean) => number;
  handle.writeBuffer = function (...args: unknown[]) {
    calls.writeBuffer++;
    return writeBuffer.apply(this, args);
  };
  handle.writev = function (req: unknown, parts: unknown[], all: boolean) {
    calls.writev++;
    calls.partsInWritev.push(parts.length);
    return writev.call(this, req, parts, all);
  };
  const write = socket.write.bind(socket);
  socket.write = ((...args: Parameters<Socket["write"]>) => {
    calls.socketWrite++;
    return write(...args);
  }) as Socket["write"];
  return calls;
}

Deno.test("SocketChannel (native handle): a turn's writes make one handle write, then one writev of the rest", async () => {
  await using pair = await tlsPair();
  const calls = countCalls(pair.socket);
  const channel = new SocketChannel(pair.socket);
  ok(channel.native);
  const sent = lines(100, 40);
  for (const line of sent) equal(channel.write(line), undefined);
  const reading = pair.readAll();
  await channel.close();
  ok(dec.decode(await within(reading, WAIT_MS, "everything")) === joinedText(sent));
  deepEqual(
    { writeBuffer: calls.writeBuffer, writev: calls.writev, parts: calls.partsInWritev },
    { writeBuffer: 1, writev: 1, parts: [99] },
  );
  equal(calls.socketWrite, 0, "nothing through node's stream");
});

Deno.test("SocketChannel (native handle): parts go to writev as they are, not joined first", async () => {
  await using pair = await tlsPair();
  const calls = countCalls(pair.socket);
  const channel = new SocketChannel(pair.socket);
  const parts = [enc.encode("one "), enc.encode("two "), enc.encode("three\n")];
  equal(channel.writeParts(parts, 14), undefined);
  const reading = pair.readAll();
  await channel.close();
  equal(dec.decode(await within(reading, WAIT_MS, "everything")), "one two three\n");
  deepEqual(calls.partsInWritev, [3]);
  equal(calls.writeBuffer, 0);
});

Deno.test("SocketChannel: a handle that refuses its first native write falls back to socket.write", async () => {
  await using pair = await tlsPair();
  const handle = handleOf(pair.socket);
  const writeBuffer = handle.writeBuffer as (...args: unknown[]) => number;
  let refused = 0;
  handle.writeBuffer = function (...args: unknown[]) {
    if (refused++ === 0) throw new TypeError("not a WriteWrap"); // an internal that changed
    return writeBuffer.apply(this, args);
  };
  let socketWrites = 0;
  const write = pair.socket.write.bind(pair.socket);
  pair.socket.write = ((...args: Parameters<Socket["write"]>) => {
    socketWrites++;
    return write(...args);
  }) as Socket["write"];
  const channel = new SocketChannel(pair.socket);
  ok(channel.native, "the shape looked right");
  const reading = pair.readAll();
  equal(channel.write(enc.encode("hello\n")), undefined);
  equal(channel.native, false, "now on the public path");
  equal(channel.writeParts([enc.encode("aga"), enc.encode("in\n")], 6), undefined);
  await channel.close();
  equal(dec.decode(await within(reading, WAIT_MS, "everything")), "hello\nagain\n");
  equal(socketWrites, 2);
});

Deno.test("SocketChannel (native handle): a write the handle refuses rejects, and the reader sees the failure", async () => {
  await using pair = await tlsPair();
  const channel = new SocketChannel(pair.socket);
  ok(channel.native);
  equal(channel.write(enc.encode("fine\n")), undefined); // the first call is the real one
  const handle = handleOf(pair.socket);
  handle.writev = () => -32; // EPIPE, as uv reports it
  handle.writeBuffer = () => -32;
  const closed = new Promise<void>((resolve) => pair.socket.once("close", () => resolve()));
  const reading = rejects(within(channel.read(), WAIT_MS, "the read"), Deno.errors.BrokenPipe);
  // Refused at once, or when the first write completes and this one follows it.
  const lost = channel.write(enc.encode("lost\n"));
  const lostRejected = lost && rejects(lost, Deno.errors.BrokenPipe);
  await within(closed, WAIT_MS, "the close");
  await lostRejected;
  await rejects(Promise.resolve(channel.write(enc.encode("more\n"))), Deno.errors.BrokenPipe);
  await reading; // failed with the write's error
});

Deno.test("SocketChannel (native handle): a write completed with an error fails the channel and its reader", async () => {
  await using pair = await tlsPair();
  const channel = new SocketChannel(pair.socket);
  const handle = handleOf(pair.socket);
  handle.writeBuffer = (req: { oncomplete(status: number): void }) => {
    queueMicrotask(() => req.oncomplete(-104)); // ECONNRESET once "sent"
    return 0;
  };
  const reading = rejects(within(channel.read(), WAIT_MS, "the read"), Deno.errors.BrokenPipe);
  equal(channel.write(enc.encode("hello\n")), undefined);
  await reading; // failed with the write's error
  await rejects(Promise.resolve(channel.write(enc.encode("again\n"))), Deno.errors.BrokenPipe);
});
