/**
 * What the cluster's NATS parts cost on this machine, before they are wired
 * into the server: JetStream publish acknowledgements (one at a time and 64
 * in flight), the delivery of those messages to followers, and KV
 * compare-and-set updates, against a nats-server this script starts (Debian's
 * `nats-server`, JetStream in a temporary directory). Not `deno task bench
 * --cluster` (that needs cluster mode in the server); figures for
 * docs/CLUSTER.md's arithmetic.
 *
 *   deno run --allow-all bench/nats_stream.ts [--messages N]
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { jetstream } from "@nats-io/jetstream";
import { startNats } from "../tests/_nats.ts";
import { MessageStream, type StreamedMessage } from "../lib/cluster/message_stream.ts";
import { KvMirror } from "../lib/cluster/kv_mirror.ts";

const count = Number(Deno.args[Deno.args.indexOf("--messages") + 1] || 5000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

function report(name: string, ms: number[], wallMs: number): void {
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(
    `${name}: ${Math.round(ms.length / (wallMs / 1000))}/s, p50 ${
      percentile(sorted, 0.5).toFixed(2)
    } ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms`,
  );
}

await using nats = await startNats();
const publisher = await connect({ servers: nats.url });
const followers = await Promise.all([1, 2].map(() => connect({ servers: nats.url })));
const stream = await MessageStream.open(publisher, {
  retentionDays: 1,
  maxBytes: 1024 * 1024 * 1024,
});
const message = (i: number) => ({
  kind: "message" as const,
  room: "main",
  from: "bench",
  text: `message ${i} ${"x".repeat(60)}`,
  ts: i,
});

// Followers: each instance's fan-out source. Measure publish-to-delivery.
const sentAt = new Map<number, number>();
const delivered: number[] = [];
let got = 0;
const allDelivered = Promise.withResolvers<void>();
const stops = await Promise.all(followers.map(async (nc) => {
  const s = await MessageStream.open(nc, { retentionDays: 1, maxBytes: 1024 * 1024 * 1024 });
  return await s.follow(0, (m: StreamedMessage) => {
    const at = sentAt.get(m.message.ts);
    if (at !== undefined) delivered.push(performance.now() - at);
    if (++got === 2 * 2 * count) allDelivered.resolve();
  });
}));

{
  const ms: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    sentAt.set(i, t);
    await stream.publishRoom(message(i));
    ms.push(performance.now() - t);
  }
  report("publish, one at a time (ack latency)", ms, performance.now() - start);
}
{
  const ms: number[] = [];
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = count; i < 2 * count; i++) {
    const t = performance.now();
    sentAt.set(i, t);
    const p: Promise<void> = stream.publishRoom(message(i)).then(() => {
      ms.push(performance.now() - t);
      inFlight.delete(p);
    });
    inFlight.add(p);
    if (inFlight.size >= 64) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  report("publish, 64 in flight (ack latency)", ms, performance.now() - start);
}
await allDelivered.promise;
{
  const sorted = [...delivered].sort((a, b) => a - b);
  console.log(
    `delivery to 2 followers, publish to follower: p50 ${
      percentile(sorted, 0.5).toFixed(2)
    } ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms`,
  );
}
{
  const kv = await new Kvm(publisher).create("bench", { history: 1 });
  const codec = {
    decode: (b: Uint8Array) => Number(new TextDecoder().decode(b)),
    encode: (n: number) => new TextEncoder().encode(String(n)),
  };
  const mirror = await KvMirror.open(kv, { ...codec, js: jetstream(publisher) });
  const ms: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await mirror.update(`k${i % 100}`, (n) => (n ?? 0) + 1);
    ms.push(performance.now() - t);
  }
  report("KV compare-and-set update, one at a time", ms, performance.now() - start);
  await mirror.close();
}
for (const stop of stops) await stop.stop();
for (const nc of [publisher, ...followers]) await nc.close();
