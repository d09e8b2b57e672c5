/**
 * The CPU floor of a delivery: a bare TLS chat relay, run by the bench as a
 * child process (targets `floor-node-w<W>` and `floor-deno-w<W>`). It accepts
 * TLS on 127.0.0.1, splits what each connection sends into lines and sends
 * each complete line, prefixed `<uN> ` like `ncat --chat`, to every OTHER
 * connection. No login, no protocol, no history, no logging: what is left is
 * the runtime, the TLS engine and the writes. Banter's figure minus this one
 * is what Banter itself costs.
 *
 * - `--engine node`: `node:tls` `createServer` with `minVersion` TLSv1.2 and
 *   `setNoDelay(true)`, as lib/net/_node_engine.ts sets it up; the socket is
 *   written as that engine's channel does (`socket.write`, a promise on
 *   `drain` when it returns false).
 * - `--engine deno`: `Deno.listenTls`, Nagle left on (as the `deno` engine),
 *   one read loop per connection, writes chained one after another.
 *
 * Writes go through lib/net/_write_coalescing.ts `WriteCoalescing`
 * (`--window-ms W`, `--max-window-ms M`; W = 0 bypasses it: one write per
 * delivery). Each line is joined with its prefix once per message and the
 * same bytes go to every recipient; the lines of one read are handed to each
 * recipient's coalescing sink in one `writeParts` call. When a recipient
 * cannot take more (its sink returns a promise), the sender is not read
 * again until it can: that keeps the relay's memory near what is in flight,
 * as Banter's read budget does (without it, a relay that falls behind
 * buffers gigabytes and spends its time in the garbage collector).
 *
 * A measuring tool, not product code: it trusts its peers (a line longer
 * than 64 KiB closes the connection, nothing else is checked). It prints
 * `Listening on 127.0.0.1:PORT` when it accepts.
 *
 * ```sh
 * deno run -A bench/floor_relay.ts --engine node --window-ms 2 --cert server.crt --key server.key
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tls from "node:tls";
import type { Socket } from "node:net";
import type { ByteSink } from "../lib/wire/byte_channel.ts";
import { WriteCoalescing } from "../lib/net/_write_coalescing.ts";

/** Longest line kept while its end has not arrived. */
const MAX_LINE_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** One connected client. */
interface Peer {
  /** Its coalescing sink. */
  readonly sink: ByteSink;
  /** `<uN> `, encoded once. */
  readonly prefix: Uint8Array;
  /** The start of a line whose `\n` has not arrived yet (a copy). */
  rest: Uint8Array | undefined;
  /** Ends the connection. */
  readonly close: () => void;
}

const peers = new Set<Peer>();
let nextId = 1;

function addPeer(sink: ByteSink, close: () => void): Peer {
  const id = nextId++;
  const peer: Peer = { sink, prefix: encoder.encode(`<u${id}> `), rest: undefined, close };
  peers.add(peer);
  // Like ncat's own announce: the load generator is in on its first line.
  peer.sink.write(encoder.encode(`<announce> you are connected as <u${id}>.\n`))
    ?.catch(() => dropPeer(peer));
  return peer;
}

function dropPeer(peer: Peer): void {
  if (!peers.delete(peer)) return;
  peer.rest = undefined;
  peer.close();
}

/**
 * Relay every complete line of `chunk` (its bytes may be reused once this
 * returns): each line joined with the sender's prefix once, then handed to
 * every other peer's sink, all of a chunk's lines in one call per peer
 * (`writeParts`; a sink without it, i.e. window 0, gets one write per line).
 *
 * @returns What the sender must wait for before it reads again (some
 *   recipient could not take more), or undefined.
 */
function received(from: Peer, chunk: Uint8Array): Promise<unknown> | undefined {
  const lines: Uint8Array[] = [];
  let size = 0;
  let start = 0;
  let nl = chunk.indexOf(0x0a);
  while (nl !== -1) {
    const rest = from.rest;
    const restLength = rest?.length ?? 0;
    const prefix = from.prefix;
    const line = new Uint8Array(prefix.length + restLength + nl + 1 - start);
    line.set(prefix);
    if (rest !== undefined) line.set(rest, prefix.length);
    line.set(chunk.subarray(start, nl + 1), prefix.length + restLength);
    from.rest = undefined;
    lines.push(line);
    size += line.length;
    start = nl + 1;
    nl = chunk.indexOf(0x0a, start);
  }
  keepRest(from, chunk.subarray(start));
  if (lines.length === 0) return undefined;
  let waits: Promise<void>[] | undefined;
  for (const peer of peers) {
    if (peer === from) continue;
    const sink = peer.sink;
    let pending: Promise<void> | undefined;
    if (sink.writeParts !== undefined) {
      pending = sink.writeParts(lines, size);
    } else {
      for (const line of lines) pending = sink.write(line) ?? pending;
    }
    if (pending !== undefined) (waits ??= []).push(pending.catch(() => dropPeer(peer)));
  }
  return waits === undefined ? undefined : Promise.all(waits);
}

/** Keep the start of a line whose end has not arrived (a copy). */
function keepRest(from: Peer, tail: Uint8Array): void {
  if (tail.length === 0) return;
  const rest = from.rest;
  if ((rest?.length ?? 0) + tail.length > MAX_LINE_BYTES) {
    console.error(`Cannot relay: a line is longer than ${MAX_LINE_BYTES} bytes; closing`);
    dropPeer(from);
    return;
  }
  if (rest === undefined) {
    from.rest = tail.slice();
  } else {
    const joined = new Uint8Array(rest.length + tail.length);
    joined.set(rest);
    joined.set(tail, rest.length);
    from.rest = joined;
  }
}

/**
 * A node socket's write, as lib/net/_node_engine.ts does it: undefined when
 * the socket took it, else a promise on `drain` (one, shared by every write
 * made while the socket is full: this relay does not wait for it).
 */
function nodeSink(socket: Socket): ByteSink {
  let full: Promise<void> | undefined;
  const drained = () =>
    new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        socket.off("close", onClose);
        full = undefined;
        resolve();
      };
      const onClose = () => {
        socket.off("drain", onDrain);
        reject(new Deno.errors.BrokenPipe("socket closed"));
      };
      socket.once("drain", onDrain);
      socket.once("close", onClose);
    });
  return {
    write(bytes) {
      if (socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("socket closed"));
      if (socket.write(bytes) && full === undefined) return undefined;
      return full ??= drained();
    },
    close: () => new Promise<void>((resolve) => socket.end(resolve)),
  };
}

function serveNode(
  cert: string,
  key: string,
  coalescing: WriteCoalescing,
): Promise<number> {
  const server = tls.createServer({ cert, key, minVersion: "TLSv1.2" }, (socket) => {
    socket.setNoDelay(true);
    let paused = 0;
    const peer = addPeer(coalescing.wrap(nodeSink(socket)), () => socket.destroy());
    socket.on("data", (chunk: Uint8Array) => {
      const wait = received(peer, chunk);
      if (wait === undefined) return;
      // A recipient is full: read no more from this sender until it drains.
      if (paused++ === 0) socket.pause();
      wait.then(() => {
        if (--paused === 0) socket.resume();
      });
    });
    socket.on("error", () => dropPeer(peer));
    socket.on("close", () => dropPeer(peer));
    socket.resume(); // Deno's node:tls starts the socket paused
  });
  server.on("tlsClientError", () => undefined);
  server.on("error", () => undefined);
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}

/** A Deno connection's writes, one after another (`conn.write` may write part). */
function denoSink(conn: Deno.Conn): ByteSink {
  let tail: Promise<void> = Promise.resolve();
  const writeAll = async (bytes: Uint8Array) => {
    let at = 0;
    while (at < bytes.length) at += await conn.write(bytes.subarray(at));
  };
  return {
    write(bytes) {
      const done = tail.then(() => writeAll(bytes));
      tail = done.catch(() => undefined);
      return done;
    },
    close: async () => {
      await tail;
      await conn.closeWrite().catch(() => undefined);
    },
  };
}

function serveDeno(cert: string, key: string, coalescing: WriteCoalescing): number {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const serve = async (conn: Deno.TlsConn) => {
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    };
    await conn.handshake();
    const peer = addPeer(coalescing.wrap(denoSink(conn)), close);
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null || closed) break;
        // A recipient is full: read no more from this sender until it drains.
        await received(peer, buffer.subarray(0, n));
      }
    } finally {
      dropPeer(peer);
    }
  };
  (async () => {
    for await (const conn of listener) {
      serve(conn).catch(() => {
        try {
          conn.close();
        } catch { /* closed already */ }
      });
    }
  })();
  return listener.addr.port;
}

/**
 * Run the relay until killed.
 *
 * @param args `--engine node|deno`, `--window-ms W`, `--max-window-ms M`, `--cert FILE`, `--key FILE`.
 * @returns 2 for bad arguments; otherwise it never returns.
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      engine: { type: "string", default: "node" },
      "window-ms": { type: "string", default: "2" },
      "max-window-ms": { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
    },
  });
  const windowMs = Number(values["window-ms"]);
  const maxWindowMs = Number(values["max-window-ms"] ?? windowMs);
  if (values.engine !== "node" && values.engine !== "deno") {
    console.error(`Cannot relay: --engine ${values.engine} is neither node nor deno`);
    return 2;
  }
  if (values.cert === undefined || values.key === undefined) {
    console.error("Cannot relay: --cert and --key are required");
    return 2;
  }
  let coalescing: WriteCoalescing;
  try {
    coalescing = new WriteCoalescing({ windowMs, maxWindowMs });
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  let cert: string;
  let key: string;
  try {
    cert = await Deno.readTextFile(values.cert);
    key = await Deno.readTextFile(values.key);
  } catch (error) {
    console.error(`Cannot relay: cannot read the certificate or key: ${(error as Error).message}`);
    return 2;
  }
  const port = values.engine === "node"
    ? await serveNode(cert, key, coalescing)
    : serveDeno(cert, key, coalescing);
  console.log(`Listening on 127.0.0.1:${port}`);
  await new Promise(() => {});
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
