/**
 * Several Banter instances on one nats-server, as users see them: real TLS
 * clients on different instances, one chat.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { startNats } from "../_nats.ts";
import { startTestServer, type TestServer } from "../_server.ts";
import { loginV2 } from "../e2e/_v2_client.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import type { ServerConfig } from "../../lib/server/settings.ts";

type Message = Extract<ServerFrame, { type: "message" }>;

/** `count` instances on `url` sharing the first one's credentials file. */
async function instances(
  url: string,
  count: number,
  config: Partial<ServerConfig> = {},
): Promise<{ all: TestServer[] } & AsyncDisposable> {
  const first = await startTestServer({
    users: ["ann", "bob", "cat", "dan"],
    admins: ["root"],
    config: { cluster: url, ...config },
  });
  const all = [first];
  for (let i = 1; i < count; i++) {
    all.push(
      await startTestServer({
        config: { cluster: url, credentials: first.config.credentials, ...config },
      }),
    );
  }
  return {
    all,
    async [Symbol.asyncDispose]() {
      for (const server of [...all].reverse()) await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("clients on three instances chat as one room, every receiver in the same order", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 3, { rateBurst: 100, ratePerSecond: 100 });
  const [a, b, c] = servers.all as [TestServer, TestServer, TestServer];
  await using ann = await loginV2(a.port, "ann");
  await using bob = await loginV2(b.port, "bob");
  await using cat = await loginV2(c.port, "cat");
  // Everyone sends at once, from its own instance.
  const senders = [ann, bob, cat];
  const perSender = 20;
  await Promise.all(senders.map(async (login, s) => {
    for (let i = 0; i < perSender; i++) {
      await login.client.send({ type: "say", room: "lobby", text: `m${s}-${i}`, id: `${s}-${i}` });
    }
  }));
  const total = perSender * senders.length;
  const seen = await Promise.all(senders.map(async (login) => {
    const texts: Message[] = [];
    while (texts.length < total) {
      const frame = await login.client.until((f) => f.type === "message");
      texts.push(frame as Message);
    }
    return texts;
  }));
  const order = seen[0]!.map((m) => `${m.id}:${m.text}`);
  equal(order.length, total);
  deepEqual(seen[1]!.map((m) => `${m.id}:${m.text}`), order);
  deepEqual(seen[2]!.map((m) => `${m.id}:${m.text}`), order);
  // Ids rise in the order delivered: they are the stream's sequence.
  ok(seen[0]!.every((m, i) => i === 0 || m.id! > seen[0]![i - 1]!.id!));
  // Each sender's own messages came back in the order it sent them.
  for (let s = 0; s < senders.length; s++) {
    const own = seen[s]!.filter((m) => m.text.startsWith(`m${s}-`)).map((m) => m.text);
    deepEqual(own, Array.from({ length: perSender }, (_, i) => `m${s}-${i}`));
  }
});

Deno.test("a DM reaches every device of the recipient, wherever each is connected", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 3);
  const [a, b, c] = servers.all as [TestServer, TestServer, TestServer];
  await using ann = await loginV2(a.port, "ann");
  await using bobOnB = await loginV2(b.port, "bob");
  await using bobOnC = await loginV2(c.port, "bob");
  await ann.client.send({ type: "dm", to: "bob", text: "psst", id: "d1" });
  for (const bob of [bobOnB, bobOnC]) {
    const dm = await bob.client.until((f) => f.type === "dm");
    equal(dm.type === "dm" && dm.text, "psst");
  }
  // The sender gets its ack and its echo (in either order: the echo comes
  // from the stream, the ack from the publish).
  const kinds = new Set<string>();
  while (kinds.size < 2) {
    const frame = await ann.client.until((f) => f.type === "ack" || f.type === "dm");
    kinds.add(frame.type);
  }
});

Deno.test("/who lists the room's members online on any instance", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 2);
  const [a, b] = servers.all as [TestServer, TestServer];
  await using ann = await loginV2(a.port, "ann");
  await using bob = await loginV2(b.port, "bob");
  // Bob's instance has written its presence once ann sees him in /who.
  for (let tries = 0;; tries++) {
    await ann.client.send({ type: "say", room: "lobby", text: "/who", id: `w${tries}` });
    const listing = await ann.client.until((f) => f.type === "who");
    const names = listing.type === "who" ? listing.users.map((u) => u.name) : [];
    if (names.includes("bob")) {
      deepEqual(names, ["ann", "bob"]);
      break;
    }
    ok(tries < 200, `bob never listed: ${JSON.stringify(names)}`);
    await bob.client.send({ type: "ping", id: tries }); // a round trip on his side, then ask again
    await bob.client.until((f) => f.type === "pong");
  }
});
