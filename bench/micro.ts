/**
 * In-process micro-benchmarks of the server's per-delivery and per-line
 * code, for comparing two checkouts on a busy machine where whole-server
 * runs are too noisy: each figure is the median CPU time of several
 * repetitions, in one process, without sockets.
 *
 * - `delivery`: a room of 100 outboxes (sinks that take every write at
 *   once) gets `--messages` frames of 160 bytes, `--per-turn` per event-loop
 *   turn, scheduled as the server schedules them (one shared flush batch
 *   when the checkout has one); ns of CPU per delivery. `--coalesce`: each
 *   sink behind the server's write coalescing (2 ms window, real clock),
 *   turns through a message port (faster than the window), and the bytes
 *   allocated (`new Uint8Array(n)`) per byte delivered. `--busy`: every
 *   write is held until the next turn (a socket whose buffer is full), so
 *   each turn's frames queue behind a write in flight (the backlog path);
 *   also counts the buffers allocated per 1,000 deliveries.
 * - `log`: `--lines` info lines through `setupLogging()` to stderr (point
 *   it at /dev/null); µs of CPU per line, including the writes.
 *
 * ```sh
 * deno run -A bench/micro.ts delivery [--root /other/checkout] 2>/dev/null
 * deno run -A bench/micro.ts log [--root /other/checkout] 2>/dev/null
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { getLogger } from "@logtape/logtape";

const { positionals, values } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    root: { type: "string", default: new URL("..", import.meta.url).pathname },
    messages: { type: "string", default: "2000" },
    "per-turn": { type: "string", default: "5" },
    lines: { type: "string", default: "20000" },
    reps: { type: "string", default: "7" },
    coalesce: { type: "boolean", default: false },
    busy: { type: "boolean", default: false },
  },
});
const root = values.root.endsWith("/") ? values.root : `${values.root}/`;
const reps = Number(values.reps);

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * One turn of the event loop without the 4 ms clamp of nested timers (a
 * message port), so turns come faster than the coalescer's window, as a
 * busy server's reads do.
 */
function nextPortTurn(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });
}

/** One turn of the event loop: every microtask of this one has run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function delivery(): Promise<void> {
  const { Outbox } = await import(`${root}lib/server/outbox.ts`);
  let FlushBatch: (new () => unknown) | undefined;
  try {
    ({ FlushBatch } = await import(`${root}lib/server/flush_batch.ts`));
  } catch {
    FlushBatch = undefined;
  }
  const coalescing = values.coalesce
    ? new (await import(`${root}lib/net/_write_coalescing.ts`)).WriteCoalescing({ windowMs: 2 })
    : undefined;
  const messages = Number(values.messages);
  const perTurn = Number(values["per-turn"]);
  const frames = Array.from(
    { length: perTurn },
    (_, i) =>
      new TextEncoder().encode(`{"type":"message","id":${i},"room":"lobby"${" ".repeat(110)}}\n`),
  );
  const runs: number[] = [];
  const allocatedPerByte: number[] = [];
  const buffersPerThousand: number[] = [];
  const original = globalThis.Uint8Array;
  let allocated = 0;
  let allocations = 0;
  globalThis.Uint8Array = new Proxy(original, {
    construct(target, args, newTarget) {
      if (typeof args[0] === "number") {
        allocated += args[0];
        allocations++;
      }
      return Reflect.construct(target, args, newTarget);
    },
  });
  for (let rep = 0; rep < reps; rep++) {
    let written = 0;
    allocated = 0;
    allocations = 0;
    // --busy: writes in flight, released at the start of the next turn.
    let inFlight: (() => void)[] = [];
    const flushes = FlushBatch === undefined ? undefined : new FlushBatch();
    const outboxes = Array.from({ length: 100 }, () => {
      const raw = {
        write: (bytes: Uint8Array): Promise<void> | undefined => {
          written += bytes.length;
          return values.busy ? new Promise<void>((resolve) => inFlight.push(resolve)) : undefined;
        },
        close: () => Promise.resolve(),
      };
      return new Outbox(
        coalescing === undefined ? raw : coalescing.wrap(raw),
        flushes === undefined ? {} : { flushes },
      );
    });
    const expected = Math.ceil(messages / perTurn) * frames.reduce((n, f) => n + f.length, 0) *
      100;
    const start = cpuUs();
    for (let sent = 0; sent < messages; sent += perTurn) {
      const done = inFlight;
      inFlight = [];
      for (const resolve of done) resolve();
      for (const frame of frames) for (const outbox of outboxes) outbox.push(frame);
      await (coalescing === undefined ? nextTurn() : nextPortTurn());
    }
    // The coalescer's last windows end on its timer.
    while (written < expected) {
      for (const resolve of inFlight.splice(0)) resolve();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (const resolve of inFlight.splice(0)) resolve();
    runs.push(((cpuUs() - start) * 1000) / (messages * 100));
    allocatedPerByte.push(allocated / written);
    buffersPerThousand.push((allocations * 1000) / (messages * 100));
  }
  globalThis.Uint8Array = original;
  console.log(JSON.stringify({
    micro: "delivery",
    root,
    perTurn,
    flushBatch: FlushBatch !== undefined,
    coalesce: coalescing !== undefined,
    busy: values.busy,
    buffersPerThousandDeliveries: Number(median(buffersPerThousand).toFixed(1)),
    allocatedPerDeliveredByte: Number(median(allocatedPerByte).toFixed(2)),
    nsPerDelivery: Math.round(median(runs)),
    runs: runs.map(Math.round),
  }));
}

async function logLines(): Promise<void> {
  const { setupLogging } = await import(`${root}lib/util/log.ts`);
  const lines = Number(values.lines);
  const runs: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // Like Deno.stderr.writable (one async write op per chunk), but one per
    // repetition: resetting the logging closes its stream.
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await Deno.stderr.write(chunk);
      },
    });
    const reset = await setupLogging({ format: "text", level: "info", writable });
    const log = getLogger(["banter", "audit"]);
    const start = cpuUs();
    for (let i = 0; i < lines; i++) {
      log.info("Login by {user} from {address}", { user: `user${i}`, address: "127.0.0.1" });
      if (i % 10 === 9) await nextTurn();
    }
    await reset();
    runs.push((cpuUs() - start) / lines);
  }
  console.log(JSON.stringify({
    micro: "log",
    root,
    usPerLine: Number(median(runs).toFixed(2)),
    runs: runs.map((r) => Number(r.toFixed(2))),
  }));
}

if (positionals[0] === "delivery") await delivery();
else if (positionals[0] === "log") await logLines();
else {
  console.error("usage: bench/micro.ts delivery|log [--root DIR]");
  Deno.exit(2);
}
