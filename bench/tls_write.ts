/**
 * What one TLS write costs the server, per engine: a server holding
 * `--connections` TLS connections makes `--writes` writes of `--chunk` bytes
 * to each, one write per connection per event-loop turn, while a
 * child process reads them; prints the server's CPU per write call and per
 * byte (median of `--reps`). This is the figure behind "fewer, larger
 * writes" in RESULTS.md (Round 2d): below a few KiB a write costs about the
 * same whatever its size.
 *
 * ```sh
 * deno run -A bench/tls_write.ts --engine node --chunk 170
 * deno run -A bench/tls_write.ts --engine deno --chunk 65536 --writes 50
 * deno run -A bench/tls_write.ts --variant handle --chunk 1700
 * ```
 *
 * `--variant` (node engine) picks how each write is made:
 * - `write`: `socket.write(uint8array)` (what SocketChannel did first)
 * - `buffer`: `socket.write(buffer)`, a Buffer view made up front (no conversion)
 * - `handle`: `socket._handle.writeBuffer(req, bytes)` directly, one write in
 *   flight per socket (the rest of the turn's writes joined behind it), as
 *   SocketChannel's direct path does
 * - `handlev`: the chunk as `--parts` parts, `socket._handle.writev(req, parts)`
 *   directly (joined in Rust, not in JS), one write in flight as for `handle`
 * - `writev`: the chunk as `--parts` parts, `cork()`, a write each, `uncork()`
 *   (one `_writev`, joined in Rust)
 * - `join`: the same parts joined in JS, then one `socket.write`
 * - `tcp`: plain `node:net`, no TLS: what the kernel and the stream glue cost
 * - `channel`: the server's own SocketChannel, `writeParts(parts)` (its
 *   native path when the handle offers it); `channel-public`: the same with
 *   `nativeWrites: false` (parts joined in JS, then `socket.write`)
 *
 * `--hwm N` sets the server sockets' `highWaterMark`.
 *
 * @module
 */
import process from "node:process";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { concatBytes } from "../lib/util/bytes.ts";
import { createFixture } from "./fixture.ts";
import { SocketChannel } from "../lib/net/_node_engine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    engine: { type: "string", default: "node" },
    variant: { type: "string", default: "write" },
    parts: { type: "string", default: "4" },
    hwm: { type: "string" },
    chunk: { type: "string", default: "170" },
    writes: { type: "string", default: "2000" },
    connections: { type: "string", default: "100" },
    reps: { type: "string", default: "3" },
    // Internal: the reader child.
    read: { type: "string" },
    ca: { type: "string" },
    plain: { type: "boolean", default: false },
    total: { type: "string" },
  },
});

/** The child: open `connections` connections (TLS unless `plain`) and read `total` bytes from each. */
async function reader(
  port: number,
  connections: number,
  total: number,
  ca: string,
  plain: boolean,
) {
  await Promise.all(Array.from({ length: connections }, async () => {
    const conn = plain
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
    const buffer = new Uint8Array(64 * 1024);
    let got = 0;
    while (got < total) {
      const n = await conn.read(buffer);
      if (n === null) break;
      got += n;
    }
    conn.close();
  }));
}

/** How the node engine's writes are made: see the module doc. */
type Variant =
  | "write"
  | "buffer"
  | "handle"
  | "handlev"
  | "writev"
  | "join"
  | "tcp"
  | "channel"
  | "channel-public";

const VARIANTS: readonly Variant[] = [
  "write",
  "buffer",
  "handle",
  "handlev",
  "writev",
  "join",
  "tcp",
  "channel",
  "channel-public",
];

/** What one measurement varies. */
interface Setup {
  engine: string;
  variant: Variant;
  chunk: number;
  total: number;
  connections: number;
  parts: number;
  hwm: number | undefined;
}

/** The native write the `handle` variant calls (Deno 2.9.6's TLSWrap). */
interface WriteHandle {
  writeBuffer(req: WriteRequest, bytes: Uint8Array): number;
  writev(req: WriteRequest, parts: readonly Uint8Array[], allBuffers: true): number;
}

/** What the handle calls back once a write is out. */
interface WriteRequest {
  oncomplete(status: number): void;
}

/**
 * A writer straight onto the socket's TLSWrap: one write in flight (the
 * handle keeps one completion slot), what comes meanwhile joined behind it.
 */
function handleWriter(socket: Socket): (parts: readonly Uint8Array[]) => void {
  const handle = (socket as Socket & { _handle: WriteHandle })._handle;
  let inflight = false;
  let queued: Uint8Array[] = [];
  const send = (parts: readonly Uint8Array[]) => {
    inflight = true;
    const status = parts.length === 1
      ? handle.writeBuffer(req, parts[0]!)
      : handle.writev(req, parts, true);
    if (status !== 0) socket.destroy();
  };
  const req: WriteRequest = {
    oncomplete(status: number) {
      inflight = false;
      if (status < 0) return void socket.destroy();
      if (queued.length === 0) return;
      const next = queued;
      queued = [];
      send(next);
    },
  };
  return (parts) => {
    if (!inflight) return send(parts);
    for (const part of parts) queued.push(part);
  };
}

/** The write of `payload` (as `parts`) that `variant` makes on a node socket. */
function nodeWriter(
  socket: Socket,
  variant: Variant,
  payload: Uint8Array,
  parts: readonly Uint8Array[],
): () => void {
  switch (variant) {
    case "write":
    case "tcp":
      return () => void socket.write(payload);
    case "buffer": {
      const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      return () => void socket.write(buffer);
    }
    case "handle": {
      const write = handleWriter(socket);
      const one = [payload];
      return () => write(one);
    }
    case "handlev": {
      const write = handleWriter(socket);
      return () => write(parts);
    }
    case "writev":
      return () => {
        socket.cork();
        for (const part of parts) socket.write(part);
        socket.uncork();
      };
    case "join":
      return () => void socket.write(concatBytes(parts, payload.length));
    case "channel":
    case "channel-public": {
      const channel = new SocketChannel(socket, { nativeWrites: variant === "channel" });
      return () => void channel.writeParts(parts, payload.length);
    }
  }
}

/** `bytes` cut into `count` parts of about the same size (views, no copies). */
function split(bytes: Uint8Array, count: number): Uint8Array[] {
  const size = Math.ceil(bytes.length / count);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(bytes.subarray(at, at + size));
  return parts;
}

/** One measurement: CPU µs of this process over the writes. */
async function measure(setup: Setup): Promise<{ calls: number; cpuUs: number }> {
  const { engine, variant, chunk, total, connections } = setup;
  await using fixture = await createFixture();
  const cert = readFileSync(fixture.serverCert, "utf8");
  const key = readFileSync(fixture.serverKey, "utf8");
  const payload = new Uint8Array(chunk).fill(0x78);
  const parts = split(payload, setup.parts);
  const writers: (() => void)[] = [];
  const ready = Promise.withResolvers<void>();
  const accepted = (write: () => void) => {
    writers.push(write);
    if (writers.length === connections) ready.resolve();
  };
  const onSocket = (socket: Socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.resume();
    accepted(nodeWriter(socket, variant, payload, parts));
  };
  const hwm = setup.hwm === undefined ? {} : { highWaterMark: setup.hwm };
  let port: number;
  let close: () => void;
  if (engine === "node") {
    const server = variant === "tcp"
      ? net.createServer(hwm, onSocket)
      : tls.createServer({ cert, key, ...hwm }, onSocket);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
    close = () => server.close();
  } else {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    port = listener.addr.port;
    close = () => listener.close();
    (async () => {
      for await (const conn of listener) {
        await conn.handshake();
        const writer = conn.writable.getWriter();
        accepted(() => void writer.write(payload).catch(() => undefined));
      }
    })().catch(() => undefined);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      `--read=${port}`,
      `--connections=${connections}`,
      `--total=${total}`,
      `--ca=${fixture.certsDir}/ca.crt`,
      ...(variant === "tcp" ? ["--plain"] : []),
    ],
  }).spawn();
  await ready.promise;
  const start = process.cpuUsage();
  let calls = 0;
  for (let sent = 0; sent < total; sent += chunk) {
    for (const write of writers) write();
    calls += writers.length;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await child.status;
  const used = process.cpuUsage(start);
  close();
  return { calls, cpuUs: used.user + used.system };
}

if (values.read !== undefined) {
  await reader(
    Number(values.read),
    Number(values.connections),
    Number(values.total),
    await Deno.readTextFile(values.ca!),
    values.plain,
  );
} else {
  const variant = values.variant as Variant;
  if (!VARIANTS.includes(variant)) {
    throw new TypeError(`Cannot measure: no variant ${variant} (${VARIANTS.join(", ")})`);
  }
  const chunk = Number(values.chunk);
  const setup: Setup = {
    engine: values.engine,
    variant,
    chunk,
    total: Number(values.writes) * chunk,
    connections: Number(values.connections),
    parts: Number(values.parts),
    hwm: values.hwm === undefined ? undefined : Number(values.hwm),
  };
  const runs: { calls: number; cpuUs: number }[] = [];
  for (let i = 0; i < Number(values.reps); i++) runs.push(await measure(setup));
  runs.sort((a, b) => a.cpuUs - b.cpuUs);
  const median = runs[Math.floor(runs.length / 2)]!;
  console.log(JSON.stringify({
    micro: "tls_write",
    engine: values.engine,
    ...(values.engine === "node" ? { variant } : {}),
    ...(setup.hwm === undefined ? {} : { highWaterMark: setup.hwm }),
    chunkBytes: chunk,
    writes: median.calls,
    usPerWrite: Number((median.cpuUs / median.calls).toFixed(2)),
    nsPerByte: Number(((1000 * median.cpuUs) / (median.calls * chunk)).toFixed(2)),
  }));
}
