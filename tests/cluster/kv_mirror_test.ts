/**
 * KvMirror on a real nats-server: two mirrors on two connections stand for
 * two Banter instances sharing one bucket.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { jetstream, type JetStreamClient, jetstreamManager, type PubAck } from "@nats-io/jetstream";
import { KvMirror, type KvMirrorOptions } from "../../lib/cluster/kv_mirror.ts";
import { retryTransient } from "../../lib/cluster/transient.ts";
import { within } from "../_helpers.ts";
import { type NatsNode, startNats, startNatsCluster } from "../_nats.ts";

/** Bound on one instance seeing another's write. */
const SEE_MS = 5_000;
/** Bound on a mirror seeing a write after the node serving it was killed (elections, re-creation). */
const FAILOVER_MS = 30_000;

const json: Pick<KvMirrorOptions<number>, "decode" | "encode"> = {
  decode: (bytes) => {
    const value = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof value !== "number") throw new SyntaxError("Cannot decode: not a number");
    return value;
  },
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
};

/** One "instance": its own connection and bucket handle. */
async function instance(
  servers: string | string[],
  bucket = "counts",
  replicas = 1,
): Promise<{ nc: NatsConnection; kv: KV; js: JetStreamClient } & AsyncDisposable> {
  const nc = await connect({ servers });
  // Right after a NATS node is lost the bucket may be between leaders.
  const kv = await retryTransient(() => new Kvm(nc).create(bucket, { history: 1, replicas }));
  return { nc, kv, js: jetstream(nc), [Symbol.asyncDispose]: () => nc.close() };
}

/** Wait until `mirror` holds `expected` under `key` (undefined: not held). */
function until<T>(
  mirror: KvMirror<T>,
  key: string,
  expected: T | undefined,
  ms = SEE_MS,
): Promise<void> {
  const seen = Promise.withResolvers<void>();
  const check = () => {
    if (mirror.get(key) === expected) seen.resolve();
  };
  const stop = mirror.onChange(check);
  check();
  return within(seen.promise, ms, `${key} = ${expected}`).finally(stop);
}

async function withNats(test: (nats: NatsNode) => Promise<void>): Promise<void> {
  await using nats = await startNats();
  await test(nats);
}

Deno.test("two instances updating one key at once lose no update and count their conflicts", () =>
  withNats(async (nats) => {
    await using a = await instance(nats.url);
    await using b = await instance(nats.url);
    let conflicts = 0;
    const options = { ...json, onConflict: () => conflicts++ };
    await using mirrorA = await KvMirror.open(a.kv, { ...options, js: a.js });
    await using mirrorB = await KvMirror.open(b.kv, { ...options, js: b.js });
    const increment = (n: number | undefined) => (n ?? 0) + 1;
    await Promise.all([
      ...Array.from({ length: 20 }, () => mirrorA.update("hits", increment)),
      ...Array.from({ length: 20 }, () => mirrorB.update("hits", increment)),
    ]);
    await until(mirrorA, "hits", 40);
    await until(mirrorB, "hits", 40);
    equal(json.decode((await a.kv.get("hits"))!.value), 40);
    // One instance writes a key one update at a time, so only the other
    // instance's writes conflict: some, but far fewer than 40 racing writers.
    ok(conflicts > 0 && conflicts <= 40, `${conflicts} conflicts`);
  }));

Deno.test("a write or delete on one instance reaches the other's reads through its watch", () =>
  withNats(async (nats) => {
    await using a = await instance(nats.url);
    await using b = await instance(nats.url);
    await using mirrorA = await KvMirror.open(a.kv, { ...json, js: a.js });
    await using mirrorB = await KvMirror.open(b.kv, { ...json, js: b.js });
    equal(await mirrorA.update("k", () => 7), 7);
    equal(mirrorA.get("k"), 7, "the writer reads its own write at once");
    await until(mirrorB, "k", 7);
    equal(await mirrorB.update("k", () => undefined), undefined);
    equal(mirrorB.get("k"), undefined);
    await until(mirrorA, "k", undefined);
    // Created again after the delete: the delete marker's revision is the CAS base.
    equal(await mirrorA.update("k", (n) => (n ?? 100) + 1), 101);
    await until(mirrorB, "k", 101);
  }));

Deno.test("a change that keeps the value writes nothing", () =>
  withNats(async (nats) => {
    await using a = await instance(nats.url);
    await using mirror = await KvMirror.open(a.kv, { ...json, js: a.js });
    await mirror.update("k", () => 1);
    const before = (await a.kv.get("k"))!.revision;
    equal(await mirror.update("k", (n) => n), 1);
    equal(await mirror.update("never", () => undefined), undefined);
    equal((await a.kv.get("k"))!.revision, before);
    equal(await a.kv.get("never"), null);
  }));

Deno.test("a mirror opened on a filled bucket holds every entry once open; a bad entry is reported, left out", () =>
  withNats(async (nats) => {
    await using a = await instance(nats.url);
    for (let i = 0; i < 50; i++) await a.kv.put(`k${i}`, JSON.stringify(i));
    await a.kv.delete("k3");
    await a.kv.put("bad", "not json at all");
    const bad: string[] = [];
    await using mirror = await KvMirror.open(a.kv, {
      ...json,
      js: a.js,
      onBadEntry: (key, error) => bad.push(`${key}: ${error.name}`),
    });
    equal(mirror.size, 49);
    equal(mirror.get("k49"), 49);
    equal(mirror.get("k3"), undefined);
    deepEqual(bad, ["bad: SyntaxError"]);
    // The bad entry counts as absent: a change overwrites it.
    equal(await mirror.update("bad", (n = 0) => n + 1), 1);
    equal(mirror.get("bad"), 1);
  }));

/** `js` whose publishes go through `wrap` (to lose an answer, or time out unsent). */
function publishingThrough(
  js: JetStreamClient,
  wrap: (send: () => Promise<PubAck>, call: number) => Promise<PubAck>,
): JetStreamClient {
  let calls = 0;
  const publish = (...args: Parameters<JetStreamClient["publish"]>) =>
    wrap(() => js.publish(...args), ++calls);
  return Object.create(js, { publish: { value: publish } });
}

function timedOut(): Error {
  const error = new Error("timeout");
  error.name = "TimeoutError";
  return error;
}

Deno.test("a write whose answer is lost is sent again with its message id and counted once", () =>
  withNats(async (nats) => {
    await using a = await instance(nats.url);
    const js = publishingThrough(a.js, async (send, call) => {
      const ack = await send();
      if (call === 1) throw timedOut(); // stored, but the answer never came
      return ack;
    });
    await using mirror = await KvMirror.open(a.kv, { ...json, js });
    equal(await mirror.update("hits", (n) => (n ?? 0) + 1), 1);
    equal(await mirror.update("hits", (n) => (n ?? 0) + 1), 2);
    await using c = await instance(nats.url);
    await using fresh = await KvMirror.open(c.kv, { ...json, js: c.js });
    equal(fresh.get("hits"), 2);
  }));

Deno.test("a write that timed out unsent while another instance wrote the same value is not taken for done", () =>
  withNats(async (nats) => {
    await using a = await instance(nats.url);
    await using b = await instance(nats.url);
    await using mirrorA = await KvMirror.open(a.kv, { ...json, js: a.js });
    const increment = (n: number | undefined) => (n ?? 0) + 1;
    const js = publishingThrough(b.js, async (send, call) => {
      if (call !== 1) return await send();
      // B meant 5 -> 6; before its answer, A stores 6 itself, and B's times out unsent.
      await mirrorA.update("hits", increment);
      throw timedOut();
    });
    await using mirrorB = await KvMirror.open(b.kv, { ...json, js });
    for (let i = 0; i < 5; i++) await mirrorA.update("hits", increment);
    await until(mirrorB, "hits", 5);
    equal(await mirrorB.update("hits", increment), 7);
    await until(mirrorA, "hits", 7);
  }));

Deno.test("on a 3-node cluster an R3 bucket keeps every acknowledged update with the node serving a mirror killed", async () => {
  await using cluster = await startNatsCluster();
  const urls = cluster.urls.split(",");
  await using a = await instance(urls, "counts", 3);
  await using b = await instance(urls, "counts", 3);
  const jsm = await jetstreamManager(a.nc);
  await using mirrorA = await KvMirror.open(a.kv, { ...json, js: a.js });
  // The bucket's only consumer now is mirror A's: find the node holding it.
  const [consumerA] = await Array.fromAsync(jsm.consumers.list("KV_counts"));
  await using mirrorB = await KvMirror.open(b.kv, { ...json, js: b.js });
  const increment = (n: number | undefined) => (n ?? 0) + 1;
  for (let i = 0; i < 5; i++) await mirrorA.update("hits", increment);
  await cluster.node(consumerA?.cluster?.leader ?? "").kill("SIGKILL");
  for (let i = 0; i < 5; i++) await mirrorB.update("hits", increment);
  equal(mirrorB.get("hits"), 10);
  // Mirror A's follower is made again on a live node and sees B's updates.
  await until(mirrorA, "hits", 10, FAILOVER_MS);
  // Every acknowledged update is stored: a mirror loaded now holds them all.
  await cluster.untilJetStreamAnswers();
  await using c = await instance(urls, "counts", 3);
  await using mirrorC = await KvMirror.open(c.kv, { ...json, js: c.js });
  equal(mirrorC.get("hits"), 10);
});

Deno.test("an entry that does not decode counts as absent: the next change overwrites it instead of losing every compare-and-set", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const kv = await new Kvm(nc).create("bad_entry", { history: 1 });
    const bad: string[] = [];
    const mirror = await KvMirror.open<string[]>(kv, {
      decode: (bytes) => {
        const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
        if (!Array.isArray(value)) throw new SyntaxError("not a list");
        return value as string[];
      },
      encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
      js: jetstream(nc),
      onBadEntry: (key) => bad.push(key),
    });
    try {
      await mirror.update("ann", () => ["dev"]);
      // A hostile or buggy writer puts garbage in the key.
      const changed = Promise.withResolvers<void>();
      const stop = mirror.onChange((key, value) => {
        if (key === "ann" && value === undefined) changed.resolve();
      });
      await kv.put("ann", "not json");
      await within(changed.promise, 5_000, "the garbage to arrive");
      stop();
      equal(mirror.get("ann"), undefined);
      deepEqual(await mirror.update("ann", (current = []) => [...current, "ops"]), ["ops"]);
      equal(new TextDecoder().decode((await kv.get("ann"))!.value), '["ops"]');
      ok(bad.includes("ann"));
    } finally {
      await mirror.close();
    }
  } finally {
    await nc.close();
  }
});
