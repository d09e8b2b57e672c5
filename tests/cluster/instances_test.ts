/**
 * Several Banter instances on one nats-server, as users see them: real TLS
 * clients on different instances, one chat.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { startNats } from "../_nats.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import { spawnServerProcess } from "../_process.ts";
import { tempDir, TestClient } from "../_helpers.ts";
import { addClusterUsers, userTask } from "./_cluster_users.ts";
import { loginV2 } from "../e2e/_v2_client.ts";
import type { LoginFrame, ServerFrame, TokenLoginFrame } from "../../lib/wire/protocol.ts";
import type { ServerConfig } from "../../lib/server/settings.ts";

type Message = Extract<ServerFrame, { type: "message" }>;

/** `count` instances on `url`; the cluster holds the accounts ann, bob, cat, dan and root (admin). */
async function instances(
  url: string,
  count: number,
  config: Partial<ServerConfig> = {},
): Promise<{ all: TestServer[] } & AsyncDisposable> {
  await addClusterUsers(url, ["ann", "bob", "cat", "dan"], ["root"]);
  const all: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    all.push(await startTestServer({ config: { cluster: url, ...config } }));
  }
  return {
    all,
    async [Symbol.asyncDispose]() {
      for (const server of [...all].reverse()) await server[Symbol.asyncDispose]();
    },
  };
}

/** A login frame's fields: a password (maybe asking for a token), or a token. */
type Login = Omit<LoginFrame, "type"> | Omit<TokenLoginFrame, "type">;

/** One login attempt on `port`: the answer frame (auth_failed, welcome or bye). */
async function attempt(port: number, login: Login): Promise<ServerFrame> {
  await using client = await TestClient.connect(port);
  await client.send({ type: "hello", version: 2 });
  await client.until((f) => f.type === "auth");
  await client.send({ type: "login", ...login });
  return await client.until((f) =>
    f.type === "auth_failed" || f.type === "welcome" || f.type === "bye"
  );
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
  // Bob's instance has written its presence once ann is told he is online.
  const online = await ann.client.until((f) => f.type === "presence" && f.user === "bob");
  equal(online.type === "presence" && online.online, true);
  await ann.client.send({ type: "say", room: "lobby", text: "/who", id: "w" });
  const listing = await ann.client.until((f) => f.type === "who");
  deepEqual(listing.type === "who" && listing.users.map((u) => u.name), ["ann", "bob"]);
  void bob;
});

Deno.test("a ban on one instance closes the user's sessions on the others, and every instance refuses the user after", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 3);
  const [a, b, c] = servers.all as [TestServer, TestServer, TestServer];
  await using root = await loginV2(a.port, "root");
  await using bobOnB = await loginV2(b.port, "bob");
  await using bobOnC = await loginV2(c.port, "bob");
  await root.client.send({ type: "say", room: "lobby", text: "/ban bob spam", id: "ban" });
  for (const bob of [bobOnB, bobOnC]) {
    const bye = await bob.client.until((f) => f.type === "bye");
    equal(bye.type === "bye" && bye.code, "banned");
    ok(bye.type === "bye" && /spam/.test(bye.message), JSON.stringify(bye));
  }
  // A later login on any instance is refused: the ban is in the shared bucket.
  for (const server of [b, c]) {
    const bye = await attempt(server.port, { username: "bob", password: passwordOf("bob") });
    equal(bye.type, "bye");
    equal(bye.type === "bye" && bye.code, "banned");
  }
});

Deno.test("a kick on one instance closes the user's sessions on the others", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 2);
  const [a, b] = servers.all as [TestServer, TestServer];
  await using root = await loginV2(a.port, "root");
  await using bob = await loginV2(b.port, "bob");
  // Root's instance learns from the presence bucket that bob is online elsewhere.
  await root.client.until((f) => f.type === "presence" && f.user === "bob" && f.online);
  await root.client.send({ type: "say", room: "lobby", text: "/kick bob calm down", id: "k" });
  const bye = await bob.client.until((f) => f.type === "bye");
  equal(bye.type === "bye" && bye.code, "kicked");
  equal(bye.type === "bye" && bye.message, "Kicked by root: calm down");
});

Deno.test("a room joined on one instance is shown at once to the account's sessions on another; a part too", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 2);
  const [a, b] = servers.all as [TestServer, TestServer];
  await using annOnA = await loginV2(a.port, "ann");
  await using annOnB = await loginV2(b.port, "ann");
  await annOnA.client.send({ type: "join", room: "dev", id: "j" });
  const room = await annOnB.client.until((f) => f.type === "room" && f.room === "dev");
  equal(room.type === "room" && room.room, "dev");
  await using bob = await loginV2(b.port, "bob");
  await bob.client.send({ type: "join", room: "dev", id: "j" });
  await bob.client.until((f) => f.type === "room" && f.room === "dev");
  await bob.client.send({ type: "say", room: "dev", text: "hi dev", id: "s" });
  for (const ann of [annOnA, annOnB]) {
    const message = await ann.client.until((f) => f.type === "message" && f.room === "dev");
    equal(message.type === "message" && message.text, "hi dev");
  }
  await annOnB.client.send({ type: "part", room: "dev", id: "p" });
  const part = await annOnA.client.until((f) => f.type === "part" && f.room === "dev");
  equal(part.type === "part" && part.user, "ann");
});

Deno.test("NATS restarted mid-chat: users are told, sends are refused with a reason, and everything resumes by itself", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 2);
  const [a, b] = servers.all as [TestServer, TestServer];
  await using ann = await loginV2(a.port, "ann");
  await using bob = await loginV2(b.port, "bob");
  await ann.client.send({ type: "say", room: "lobby", text: "before", id: "1" });
  await bob.client.until((f) => f.type === "message" && f.text === "before");
  await nats.kill("SIGKILL");
  const lost = await ann.client.until((f) => f.type === "notice" && /link lost/.test(f.text));
  equal(lost.type === "notice" && lost.level, "warn");
  await ann.client.send({ type: "say", room: "lobby", text: "during", id: "2" });
  const refused = await ann.client.until((f) => f.type === "error" && f.id === "2");
  ok(refused.type === "error" && /cluster link is lost/.test(refused.message));
  await nats.restart();
  for (const who of [ann, bob]) {
    await who.client.until((f) => f.type === "notice" && /link back/.test(f.text));
  }
  await ann.client.send({ type: "say", room: "lobby", text: "after", id: "3" });
  const after = await bob.client.until((f) => f.type === "message");
  // The refused message was never stored: the next one bob sees is "after".
  equal(after.type === "message" && after.text, "after");
});

Deno.test("an instance killed with -9 mid-chat: its client resumes on another instance with nothing lost or doubled, and its presence goes within the TTL", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 1, { clusterPresenceTtl: 3 });
  const [b] = servers.all as [TestServer];
  await using dir = await tempDir();
  await using killed = spawnServerProcess(dir.path, {
    args: [
      `--cluster=${nats.url}`,
      "--cluster-presence-ttl=3",
    ],
  });
  const port = await killed.listening();
  await using ann = await loginV2(port, "ann");
  await using bob = await loginV2(b.port, "bob");
  const seen: number[] = [];
  await bob.client.send({ type: "say", room: "lobby", text: "one", id: "1" });
  const one = await ann.client.until((f) => f.type === "message" && f.text === "one");
  seen.push(one.type === "message" ? one.id! : 0);
  killed.kill("SIGKILL");
  await killed.status;
  // Sent while ann has no connection.
  for (const text of ["two", "three"]) {
    await bob.client.send({ type: "say", room: "lobby", text, id: text });
    await bob.client.until((f) => f.type === "ack" && f.id === text);
  }
  // Ann reconnects to the other instance with the last id she has.
  await using again = await loginV2(b.port, "ann", { lobby: seen[0]! });
  const replay = again.rooms.get("lobby")!;
  deepEqual(replay.history.map((m) => m.text), ["two", "three"]);
  // Her presence from the killed instance ages out (it writes nothing any
  // more): bob is told she went offline once her sessions here are gone too.
  await again.client[Symbol.asyncDispose]();
  const gone = await bob.client.until((f) => f.type === "presence" && f.user === "ann");
  equal(gone.type === "presence" && gone.online, false);
});

/** A loopback port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("/healthz names the NATS link and /metrics has the cluster figures", async () => {
  await using nats = await startNats();
  const httpPort = freePort();
  await using servers = await instances(nats.url, 1, { httpPort });
  const [a] = servers.all as [TestServer];
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${httpPort}${path}`);
    return { status: response.status, text: await response.text() };
  };
  deepEqual(await get("/healthz"), { status: 200, text: "ok\nnats: up\n" });
  await using ann = await loginV2(a.port, "ann");
  await ann.client.send({ type: "say", room: "lobby", text: "counted", id: "1" });
  await ann.client.until((f) => f.type === "ack" && f.id === "1");
  const metrics = (await get("/metrics")).text;
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1]);
  equal(value("banter_cluster_link_up"), 1);
  equal(value("banter_cluster_publish_seconds_count"), 1);
  ok(value("banter_cluster_publish_seconds_sum") > 0);
  equal(value("banter_cluster_publish_failures_total"), 0);
  ok(Number.isFinite(value("banter_cluster_kv_conflicts_total")));
  ok(Number.isFinite(value("banter_cluster_stream_lag_messages")));
  await nats.kill("SIGKILL");
  await ann.client.until((f) => f.type === "notice" && /link lost/.test(f.text));
  deepEqual(await get("/healthz"), { status: 503, text: "nats link lost\n" });
  equal(Number(/^banter_cluster_link_up (\S+)$/m.exec((await get("/metrics")).text)?.[1]), 0);
});

Deno.test("failed logins on different instances count together: the third locks the account on every instance", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 3);
  const [a, b, c] = servers.all as [TestServer, TestServer, TestServer];
  const answers = [];
  for (const server of [a, b, c]) {
    answers.push(await attempt(server.port, { username: "dan", password: "wrong password 1" }));
  }
  deepEqual(answers.map((f) => f.type === "auth_failed" && f.reason), [
    "invalid",
    "invalid",
    "invalid",
  ]); // The third failure, wherever it was made, locked the name from this address:
  // the right password on the first instance is refused for the lock's time left.
  const locked = await attempt(a.port, { username: "dan", password: passwordOf("dan") });
  equal(locked.type === "auth_failed" && locked.reason, "locked", JSON.stringify(locked));
  ok(locked.type === "auth_failed" && locked.retry_after_ms! > 0);
  // Another account is not affected.
  equal((await attempt(b.port, { username: "cat", password: passwordOf("cat") })).type, "welcome");
});

Deno.test("an account added with deno task user --cluster logs in on every instance", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 2);
  const added = await userTask(
    ["add", "erin", "--cluster", nats.url, "--scrypt-log-n", "10"],
    `${passwordOf("erin")}\n`,
  );
  equal(added.code, 0, added.stderr);
  for (const server of servers.all) {
    // The instance sees the new account at its next check of the entry (before each login).
    const answer = await attempt(server.port, { username: "erin", password: passwordOf("erin") });
    equal(answer.type, "welcome", JSON.stringify(answer));
  }
});

Deno.test("a session token issued by one instance logs in on another (a browser behind a load balancer)", async () => {
  await using nats = await startNats();
  await using servers = await instances(nats.url, 2);
  const [a, b] = servers.all as [TestServer, TestServer];
  const welcome = await attempt(a.port, {
    username: "ann",
    password: passwordOf("ann"),
    want_token: true,
  });
  ok(welcome.type === "welcome" && welcome.token !== undefined, JSON.stringify(welcome));
  const answer = await attempt(b.port, { username: "ann", token: welcome.token });
  equal(answer.type, "welcome", JSON.stringify(answer));
});
