/**
 * The cluster link across a nats-server restart: its state follows the
 * connection, and a message follower resumes from where it was, nothing
 * lost or doubled.
 */
import { deepEqual, equal } from "node:assert/strict";
import { parseClusterUrls } from "../../lib/cluster/cluster_urls.ts";
import { connectCluster } from "../../lib/cluster/link.ts";
import { MessageStream, type StreamedMessage } from "../../lib/cluster/message_stream.ts";
import { within } from "../_helpers.ts";
import { startNats } from "../_nats.ts";

const SEE_MS = 10_000;

/** Resolves on the link's next change to `up`. */
function nextChange(link: { onChange(l: (up: boolean) => void): () => void }, up: boolean) {
  const changed = Promise.withResolvers<void>();
  const stop = link.onChange((now) => {
    if (now === up) changed.resolve();
  });
  return within(changed.promise, SEE_MS, `link ${up ? "up" : "down"}`).finally(stop);
}

Deno.test("the link reports itself lost when nats-server stops and back when it returns, by itself", async () => {
  await using nats = await startNats();
  await using link = await connectCluster({ servers: parseClusterUrls(nats.url) });
  equal(link.up, true);
  const down = nextChange(link, false);
  await nats.kill("SIGKILL");
  await down;
  equal(link.up, false);
  const up = nextChange(link, true);
  await nats.restart();
  await up;
  equal(link.up, true);
});

Deno.test("a message follower resumes across a nats-server restart with nothing lost or doubled", async () => {
  await using nats = await startNats();
  await using link = await connectCluster({ servers: parseClusterUrls(nats.url) });
  const stream = await MessageStream.open(link.connection, {
    retentionDays: 1,
    maxBytes: 16 * 1024 * 1024,
  });
  const seen: StreamedMessage[] = [];
  let wake = () => {};
  const until = (count: number) => {
    const done = Promise.withResolvers<void>();
    wake = () => {
      if (seen.length >= count) done.resolve();
    };
    wake();
    return within(done.promise, SEE_MS, `${count} messages (have ${seen.length})`);
  };
  const follower = await stream.follow(0, (m) => {
    seen.push(m);
    wake();
  });
  const say = (i: number) =>
    stream.publishRoom({ kind: "message", room: "main", from: "a", text: `m${i}`, ts: i });
  for (let i = 1; i <= 5; i++) await say(i);
  await until(5);
  const up = nextChange(link, true);
  await nats.kill("SIGKILL");
  await nats.restart();
  await up;
  for (let i = 6; i <= 10; i++) await say(i);
  await until(10);
  deepEqual(seen.map((m) => `${m.message.id}:${m.message.text}`), [
    "1:m1",
    "2:m2",
    "3:m3",
    "4:m4",
    "5:m5",
    "6:m6",
    "7:m7",
    "8:m8",
    "9:m9",
    "10:m10",
  ]);
  await follower.stop();
});

Deno.test("a hung NATS server (frozen, its sockets open) is left for another one once pings go unanswered", async () => {
  await using first = await startNats();
  await using second = await startNats();
  await using link = await connectCluster({
    servers: parseClusterUrls(`${first.url},${second.url}`),
    pingIntervalMs: 300,
  });
  const serving = link.connection.getServer() === `127.0.0.1:${first.port}` ? first : second;
  const other = serving === first ? second : first;
  const down = nextChange(link, false);
  const up = nextChange(link, true);
  serving.signal("SIGSTOP");
  try {
    await Promise.all([down, up]);
    equal(link.connection.getServer(), `127.0.0.1:${other.port}`);
  } finally {
    serving.signal("SIGCONT");
  }
});
