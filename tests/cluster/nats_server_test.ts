/**
 * The test nats-server helper (tests/_nats.ts) and the npm NATS clients work
 * together under Deno: JetStream publishes are acknowledged with a sequence,
 * KV updates are compare-and-set, a 3-node cluster takes an R3 stream.
 */
import { equal, rejects } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startNats, startNatsCluster } from "../_nats.ts";

Deno.test("a test nats-server acknowledges JetStream publishes with stream sequences", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "T", subjects: ["t.>"] });
    const js = jetstream(nc);
    equal((await js.publish("t.a", "one")).seq, 1);
    equal((await js.publish("t.b", "two")).seq, 2);
  } finally {
    await nc.close();
  }
});

Deno.test("a KV update with a stale revision is refused", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const kv = await new Kvm(nc).create("t");
    const first = await kv.create("k", "1");
    await kv.update("k", "2", first);
    await rejects(() => kv.update("k", "3", first), /wrong last sequence/);
  } finally {
    await nc.close();
  }
});

Deno.test("a 3-node test cluster takes an R3 stream and keeps it with one node down", async () => {
  await using cluster = await startNatsCluster();
  const nc = await connect({ servers: cluster.urls.split(",") });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "T", subjects: ["t.>"], num_replicas: 3 });
    const js = jetstream(nc);
    equal((await js.publish("t.a", "one")).seq, 1);
    await cluster.nodes[2].kill("SIGKILL");
    // Until a new leader is elected a publish may find no responder or time
    // out: retried under one message id, it is stored once.
    const ack = await js.publish("t.a", "two", { msgID: "two", retries: 20, timeout: 2_000 });
    equal(ack.seq, 2);
  } finally {
    await nc.close();
  }
});
