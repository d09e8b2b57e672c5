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
 * ```
 *
 * @module
 */
import process from "node:process";
import * as tls from "node:tls";
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { createFixture } from "./fixture.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    engine: { type: "string", default: "node" },
    chunk: { type: "string", default: "170" },
    writes: { type: "string", default: "2000" },
    connections: { type: "string", default: "100" },
    reps: { type: "string", default: "3" },
    // Internal: the reader child.
    read: { type: "string" },
    ca: { type: "string" },
    total: { type: "string" },
  },
});

/** The child: open `connections` TLS connections and read `total` bytes from each. */
async function reader(port: number, connections: number, total: number, ca: string) {
  await Promise.all(Array.from({ length: connections }, async () => {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
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

/** One measurement: CPU µs of this process over the writes. */
async function measure(
  engine: string,
  chunk: number,
  total: number,
  connections: number,
): Promise<{ calls: number; cpuUs: number }> {
  await using fixture = await createFixture();
  const cert = readFileSync(fixture.serverCert, "utf8");
  const key = readFileSync(fixture.serverKey, "utf8");
  const writers: ((bytes: Uint8Array) => void)[] = [];
  const ready = Promise.withResolvers<void>();
  const accepted = (write: (bytes: Uint8Array) => void) => {
    writers.push(write);
    if (writers.length === connections) ready.resolve();
  };
  let port: number;
  let close: () => void;
  if (engine === "node") {
    const server = tls.createServer({ cert, key }, (socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => undefined);
      socket.resume();
      accepted((bytes) => void socket.write(bytes));
    });
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
        accepted((bytes) => void writer.write(bytes).catch(() => undefined));
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
    ],
  }).spawn();
  await ready.promise;
  const bytes = new Uint8Array(chunk).fill(0x78);
  const start = process.cpuUsage();
  let calls = 0;
  for (let sent = 0; sent < total; sent += chunk) {
    for (const write of writers) write(bytes);
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
  );
} else {
  const chunk = Number(values.chunk);
  const connections = Number(values.connections);
  const total = Number(values.writes) * chunk;
  const runs: { calls: number; cpuUs: number }[] = [];
  for (let i = 0; i < Number(values.reps); i++) {
    runs.push(await measure(values.engine, chunk, total, connections));
  }
  runs.sort((a, b) => a.cpuUs - b.cpuUs);
  const median = runs[Math.floor(runs.length / 2)]!;
  console.log(JSON.stringify({
    micro: "tls_write",
    engine: values.engine,
    chunkBytes: chunk,
    writes: median.calls,
    usPerWrite: Number((median.cpuUs / median.calls).toFixed(2)),
    nsPerByte: Number(((1000 * median.cpuUs) / (median.calls * chunk)).toFixed(2)),
  }));
}
