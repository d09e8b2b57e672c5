/**
 * The memory floor of a TLS engine: a child process that only accepts TLS
 * connections and holds them (no session, no chat), and this process
 * opening N connections to it; prints the child's RSS growth per
 * connection. What Banter adds per idle session is its figure minus this.
 *
 * - `raw-node`: `node:tls` `createServer`, sockets resumed and kept.
 * - `raw-deno`: `Deno.listenTls`, each connection handshaken and reading
 *   into a buffer of `--read-bytes` (a pending read holds its buffer).
 * - `listen-node`, `listen-deno`: lib/net/tls_server.ts `listen()` with that
 *   engine, each connection read through its `ByteSource` (what a session
 *   does), nothing else.
 *
 * ```sh
 * deno run -A bench/floor.ts --kind raw-deno --connections 2000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tls from "node:tls";
import { createFixture } from "./fixture.ts";
import { sampleProcess } from "./proc_stats.ts";
import { listen } from "../lib/net/tls_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kind: { type: "string", default: "raw-deno" },
    connections: { type: "string", default: "2000" },
    "read-bytes": { type: "string", default: "1024" },
    "reply-bytes": { type: "string", default: "0" },
    serve: { type: "boolean", default: false },
    cert: { type: "string" },
    key: { type: "string" },
  },
});

/** The child: listen, print the port, hold every connection. */
async function serve(kind: string, certFile: string, keyFile: string): Promise<void> {
  const cert = await Deno.readTextFile(certFile);
  const key = await Deno.readTextFile(keyFile);
  const held: unknown[] = [];
  // --reply-bytes: what the server writes after the client's first line
  // (Banter writes hello, auth, welcome, a room's members).
  const reply = new Uint8Array(Number(values["reply-bytes"])).fill(0x61);
  let port: number;
  if (kind === "raw-node" || kind === "raw-node-conn") {
    const server = tls.createServer({ cert, key }, (socket) => {
      socket.setNoDelay(true);
      socket.once("data", () => {
        if (reply.length > 0) socket.write(reply);
      });
      socket.on("data", () => {});
      socket.resume();
      held.push(socket);
    });
    if (kind === "raw-node-conn") {
      // What listen() adds: a listener per raw TCP socket.
      server.on("connection", (raw) => raw.once("close", () => undefined));
    }
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  } else if (kind === "raw-deno") {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    port = listener.addr.port;
    const readBytes = Number(values["read-bytes"]);
    (async () => {
      for await (const conn of listener) {
        held.push(conn);
        (async () => {
          await conn.handshake();
          const buffer = new Uint8Array(readBytes);
          if ((await conn.read(buffer)) !== null && reply.length > 0) await conn.write(reply);
          while ((await conn.read(buffer)) !== null);
        })().catch(() => undefined);
      }
    })();
  } else {
    const engine = kind === "listen-node" ? "node" : "deno";
    const server = await listen(
      {
        hostname: "127.0.0.1",
        port: 0,
        cert,
        key,
        engine,
        maxPendingHandshakesPerIp: 1024,
        writeCoalesceMs: Number(Deno.env.get("FLOOR_COALESCE_MS") ?? 2),
      },
      async (conn) => {
        if (Deno.env.get("FLOOR_NO_READ")) return await new Promise(() => {});
        if ((await conn.source.read()) !== undefined && reply.length > 0) {
          await conn.sink.write(reply);
        }
        while ((await conn.source.read()) !== undefined);
      },
    );
    port = server.addr.port;
  }
  // SIGUSR2: a full garbage collection, so RSS is read without garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  Deno.addSignalListener("SIGUSR2", () => {
    gc?.();
    const { heapUsed, external } = Deno.memoryUsage();
    console.log(`gc ${heapUsed} ${external}`);
  });
  console.log(`port ${port}`);
  await new Promise(() => {});
}

async function main(): Promise<void> {
  const kind = values.kind;
  if (values.serve) return await serve(kind, values.cert!, values.key!);
  const count = Number(values.connections);
  const replyBytes = Number(values["reply-bytes"]);
  await using fixture = await createFixture();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--serve",
      "--kind",
      kind,
      "--read-bytes",
      values["read-bytes"],
      "--reply-bytes",
      values["reply-bytes"],
      "--cert",
      fixture.serverCert,
      "--key",
      fixture.serverKey,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("Cannot measure: the server exited");
      text += value;
    }
    const port = Number(/port (\d+)/.exec(text)![1]);
    const collect = async (): Promise<{ heap: number; external: number }> => {
      text = "";
      child.kill("SIGUSR2");
      while (!text.includes("gc")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("Cannot measure: the server exited");
        text += value;
      }
      const [, heap, external] = /gc (\d+) (\d+)/.exec(text)!;
      return { heap: Number(heap), external: Number(external) };
    };
    // Measurement, not synchronisation: let start-up allocations settle.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const heapBefore = await collect();
    const before = await sampleProcess(child.pid);
    const conns: Deno.TlsConn[] = [];
    for (let i = 0; i < count; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, async () => {
          const conn = await Deno.connectTls({
            hostname: "127.0.0.1",
            port,
            caCerts: [fixture.ca],
          });
          await conn.handshake();
          await conn.write(new TextEncoder().encode('{"type":"hello","version":1}\n'));
          const buffer = new Uint8Array(64 * 1024);
          for (let got = 0; got < replyBytes;) {
            const n = await conn.read(buffer);
            if (n === null) throw new Error("Cannot measure: the server closed a connection");
            got += n;
          }
          return conn;
        }),
      );
      conns.push(...batch);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const heapAfter = await collect();
    const after = await sampleProcess(child.pid);
    console.log(JSON.stringify({
      kind,
      connections: count,
      readBytes: Number(values["read-bytes"]),
      replyBytes: Number(values["reply-bytes"]),
      rssBeforeMiB: before.rssKiB / 1024,
      rssAfterMiB: after.rssKiB / 1024,
      kibPerConnection: (after.rssKiB - before.rssKiB) / count,
      jsHeapKiBPerConnection: (heapAfter.heap - heapBefore.heap) / 1024 / count,
      externalKiBPerConnection: (heapAfter.external - heapBefore.external) / 1024 / count,
    }));
    for (const conn of conns) conn.close();
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

await main();
