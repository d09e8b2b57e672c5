/**
 * The cluster's message stream on a real nats-server: several connections
 * stand for several Banter instances.
 */
import { deepEqual, equal } from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  MESSAGE_STREAM,
  MessageStream,
  type StreamedMessage,
} from "../../lib/cluster/message_stream.ts";
import { within } from "../_helpers.ts";
import { startNats, startNatsCluster } from "../_nats.ts";

const LIMITS = { retentionDays: 30, maxBytes: 64 * 1024 * 1024 };
const SEE_MS = 5_000;
/**
 * After a NATS node is killed: reconnect, leader elections (6 s seen for the
 * metadata leader on a loaded machine) and the follower's re-creation.
 */
const FAILOVER_MS = 30_000;

/** Collects what a follower delivers; `until(n)` waits for n of them. */
function collector() {
  const seen: StreamedMessage[] = [];
  let wake = () => {};
  return {
    seen,
    listener: (streamed: StreamedMessage) => {
      seen.push(streamed);
      wake();
    },
    until(count: number, ms = SEE_MS): Promise<void> {
      const done = Promise.withResolvers<void>();
      wake = () => {
        if (seen.length >= count) done.resolve();
      };
      wake();
      return within(done.promise, ms, `${count} messages (have ${seen.length})`);
    },
  };
}

async function connections(url: string, count: number): Promise<NatsConnection[]> {
  return await Promise.all(Array.from({ length: count }, () => connect({ servers: url })));
}

Deno.test("messages sent on three instances at once reach every instance in one order, ids the stream sequence", async () => {
  await using nats = await startNats();
  const ncs = await connections(nats.url, 3);
  try {
    const streams = await Promise.all(ncs.map((nc) => MessageStream.open(nc, LIMITS)));
    const followers = streams.map(() => collector());
    const stops = await Promise.all(streams.map((s, i) => s.follow(0, followers[i]!.listener)));
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        streams[i % 3]!.publishRoom({
          kind: "message",
          room: "main",
          from: `user${i % 3}`,
          text: `hello ${i}`,
          ts: 1000 + i,
        })),
    );
    for (const follower of followers) await follower.until(30);
    const order = followers.map((f) => f.seen.map((s) => `${s.message.id}:${s.message.text}`));
    deepEqual(order[1], order[0]);
    deepEqual(order[2], order[0]);
    // The acknowledged ids are exactly the delivered ones, 1..30 in order.
    deepEqual(
      sent.map((m) => m.id).sort((a, b) => a - b),
      followers[0]!.seen.map((s) => s.message.id),
    );
    deepEqual(
      followers[0]!.seen.map((s) => s.message.id),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    for (const stop of stops) await stop.stop();
  } finally {
    for (const nc of ncs) await nc.close();
  }
});

Deno.test("a follower resumed from the last id it knows gets the rest, nothing doubled", async () => {
  await using nats = await startNats();
  const [nc] = await connections(nats.url, 1);
  try {
    const stream = await MessageStream.open(nc!, LIMITS);
    for (let i = 1; i <= 8; i++) {
      await stream.publishRoom({ kind: "message", room: "main", from: "a", text: `m${i}`, ts: i });
    }
    const follower = collector();
    const stop = await stream.follow(5, follower.listener);
    await follower.until(3);
    await stream.publishRoom({ kind: "message", room: "main", from: "a", text: "m9", ts: 9 });
    await follower.until(4);
    deepEqual(follower.seen.map((s) => s.message.text), ["m6", "m7", "m8", "m9"]);
    await stop.stop();
  } finally {
    await nc!.close();
  }
});

Deno.test("history pages are read by subject: a room's with before/after and a limit, DMs by the pair either way", async () => {
  await using nats = await startNats();
  const [nc] = await connections(nats.url, 1);
  try {
    const stream = await MessageStream.open(nc!, LIMITS);
    for (let i = 1; i <= 6; i++) {
      await stream.publishRoom({
        kind: "message",
        room: i % 2 ? "odd" : "even",
        from: "a",
        text: `${i}`,
        ts: i,
      });
    }
    const dm = await stream.publishDirect(
      { kind: "dm", from: "alice", to: "bob", text: "psst", ts: 7 },
      { from: "acct-a", to: "acct-b" },
    );
    const texts = (page: { messages: { text: string }[] }) => page.messages.map((m) => m.text);
    deepEqual(texts(await stream.roomPage("odd", { limit: 10 })), ["1", "3", "5"]);
    const newest = await stream.roomPage("odd", { limit: 2 });
    deepEqual([texts(newest), newest.truncated], [["3", "5"], true]);
    deepEqual(texts(await stream.roomPage("odd", { before: 5, limit: 10 })), ["1", "3"]);
    deepEqual(texts(await stream.roomPage("even", { after: 2, limit: 10 })), ["4", "6"]);
    deepEqual(texts(await stream.roomPage("nobody", { limit: 10 })), []);
    const both = await stream.directPage("acct-b", "acct-a", { limit: 10 });
    deepEqual(both.messages, [{ ...dm }]);
    equal(dm.id, 7);
  } finally {
    await nc!.close();
  }
});

Deno.test("retention days and the total history quota are the stream's max_age and max_bytes", async () => {
  await using nats = await startNats();
  const [nc] = await connections(nats.url, 1);
  try {
    await MessageStream.open(nc!, { retentionDays: 2, maxBytes: 1024 * 1024 });
    // Opened again with other settings: the limits follow.
    await MessageStream.open(nc!, { retentionDays: 3, maxBytes: 2 * 1024 * 1024 });
    const info = await (await jetstreamManager(nc!)).streams.info(MESSAGE_STREAM);
    equal(info.config.max_age, 3 * 86_400_000 * 1_000_000);
    equal(info.config.max_bytes, 2 * 1024 * 1024);
  } finally {
    await nc!.close();
  }
});

Deno.test("on a 3-node cluster an R3 stream loses no acknowledged message when the node serving the follower is killed mid-chat", async () => {
  await using cluster = await startNatsCluster();
  const servers = cluster.urls.split(",");
  const [sender, receiver] = await Promise.all([1, 2].map(() => connect({ servers })));
  try {
    const stream = await MessageStream.open(sender!, { ...LIMITS, replicas: 3 });
    const follower = collector();
    let recreated = 0;
    const following = await (await MessageStream.open(receiver!, { ...LIMITS, replicas: 3 }))
      .follow(0, follower.listener, { onRecreate: () => recreated++ });
    const acked: number[] = [];
    const say = async (i: number) => {
      const m = await stream.publishRoom({
        kind: "message",
        room: "main",
        from: "a",
        text: `m${i}`,
        ts: i,
      });
      acked.push(m.id);
    };
    for (let i = 1; i <= 5; i++) await say(i);
    await follower.until(5);
    // The worst case, made certain: the node holding the follower's (R1)
    // consumer dies, which the client's ordered consumer never got over.
    const jsm = await jetstreamManager(receiver!);
    const info = await jsm.consumers.info(MESSAGE_STREAM, following.consumerName);
    await cluster.node(info.cluster?.leader ?? "").kill("SIGKILL");
    for (let i = 6; i <= 10; i++) await say(i);
    await follower.until(10, FAILOVER_MS);
    deepEqual(
      follower.seen.map((s) => s.message.text),
      Array.from({ length: 10 }, (_, i) => `m${i + 1}`),
    );
    deepEqual(follower.seen.map((s) => s.message.id), acked);
    equal(recreated >= 1, true);
    await following.stop();
  } finally {
    await sender!.close();
    await receiver!.close();
  }
});
