import { deepEqual, equal } from "node:assert/strict";
import { ChatClient, type ChatClientOptions, EXIT } from "../../lib/client/run.ts";
import { FakeClock } from "../_fake_clock.ts";
import { testPki, within } from "../_helpers.ts";
import {
  closedPort,
  LOW,
  RecordingIO,
  standIn,
  type StandInPeer,
  untilEnd,
  welcomeV2,
} from "./_stand_in.ts";

/** A client for `ports` on localhost, in that order, on a fake clock. */
async function clientOf(
  ports: number[],
  clock: FakeClock,
  io: RecordingIO,
  options: Partial<ChatClientOptions> = {},
): Promise<ChatClient> {
  const p = await testPki();
  return new ChatClient({
    connect: { hostname: "localhost", port: ports[0] ?? 0, caCerts: [p.ca.cert] },
    servers: ports.map((port) => ({ hostname: "localhost", port })),
    io,
    random: LOW,
    clock,
    username: "alice",
    password: "irrelevant password",
    maxReconnects: 3,
    ...options,
  });
}

/** Logs alice in (version 2) and chats until `end`. */
async function chats(peer: StandInPeer): Promise<void> {
  await welcomeV2(peer);
  await untilEnd(peer);
}

/** The first connection: alice logs in, sees message 7 in #lobby, and is dropped; later ones chat. */
async function dropsTheFirst(peer: StandInPeer): Promise<void> {
  if (peer.n > 1) return await chats(peer);
  await welcomeV2(peer, [7]);
}

/** Answers HTTP: a port that does not speak Banter. */
async function answersHttp(peer: StandInPeer): Promise<void> {
  await peer.raw("HTTP/1.1 400 Bad Request\r\n\r\n");
}

const refusedAt = (port: number) =>
  `Cannot connect to localhost:${port}: connection refused (is the server running?)`;

Deno.test("the first connect goes down the list: a refused server is reported naming the next, and the client logs in there", async () => {
  const closed = closedPort();
  await using s = await standIn(chats);
  const io = new RecordingIO();
  const chat = await clientOf([closed, s.port], new FakeClock(), io);
  chat.say("end");
  equal(await within(chat.run(), 5000, "the client to exit"), EXIT.ok);
  deepEqual(io.lines, [
    `${refusedAt(closed)}; trying localhost:${s.port}`,
    `Logged in as alice on localhost:${s.port}. Type /help for commands, end to leave.`,
    "Goodbye",
  ]);
});

Deno.test("when every server fails at first, each failure is one line, then one names every server tried, and the exit status is the last one's", async () => {
  const p = await testPki();
  const closed = closedPort();
  await using otherName = await standIn(chats, { cert: p.otherNameServer });
  await using http = await standIn(answersHttp);
  await using future = await standIn(async (peer) => {
    await peer.send({ type: "hello", version: 9, server: "future/9" });
    await peer.lines.next();
  });
  const io = new RecordingIO();
  const ports = [closed, otherName.port, http.port, future.port];
  const chat = await clientOf(ports, new FakeClock(), io);
  equal(await within(chat.run(), 5000, "the client to exit"), EXIT.protocol);
  deepEqual(io.lines, [
    `${refusedAt(closed)}; trying localhost:${otherName.port}`,
    `TLS failure: the server's certificate is not valid for the name "localhost" (it is valid for chat.example.org: use one of those with --host); trying localhost:${http.port}`,
    `Cannot connect to localhost:${http.port}: that port does not speak Banter (it answered HTTP); check --host and --port; trying localhost:${future.port}`,
    "Protocol error: server speaks version 9, this client 2",
    `Cannot connect: tried every server in turn: ${ports.map((p) => `localhost:${p}`).join(", ")}`,
  ]);
  deepEqual([http.connections(), future.connections()], [1, 1], "each tried once");
});

Deno.test("a refused login ends the client at once: the account is the same on the next server", async () => {
  await using refuses = await standIn(async (peer) => {
    await peer.send({ type: "hello", version: 1, versions: [1, 2], server: "stand-in/2" });
    await peer.lines.next(); // hello
    await peer.send({ type: "auth", attempts_left: 3 });
    await peer.lines.next(); // login
    await peer.send({
      type: "auth_failed",
      reason: "invalid",
      attempts_left: 2,
      message: "Wrong user name or password",
    });
    await peer.lines.next();
  });
  await using next = await standIn(chats);
  const io = new RecordingIO();
  const chat = await clientOf([refuses.port, next.port], new FakeClock(), io);
  equal(await within(chat.run(), 5000, "the client to exit"), EXIT.auth);
  deepEqual(io.lines, ["Login failed: wrong user name or password"]);
  equal(next.connections(), 0);
});

Deno.test("after a drop the client reconnects to the next server after its backoff, says which, and sends it the resume ids", async () => {
  await using a = await standIn(dropsTheFirst);
  await using b = await standIn(chats);
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await clientOf([a.port, b.port], clock, io);
  const dropped = io.next(/reconnecting/);
  const running = chat.run();
  await dropped;
  equal(
    io.lines.at(-1),
    `Connection closed by the server; reconnecting to localhost:${b.port} in 1 s`,
  );
  clock.advance(499);
  equal(clock.pendingTimers, 1, "still waiting at 499 ms");
  equal(b.connections(), 0);
  const again = io.next(/Reconnected/);
  clock.advance(1);
  await again;
  equal(io.lines.at(-1), `Reconnected to localhost:${b.port} after 1s`);
  deepEqual([a.connections(), b.connections()], [1, 1]);
  deepEqual(b.hellos[0]?.["resume"], { lobby: 7 });
  chat.quit();
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
});

Deno.test("a reconnect refused by the next server goes round to the one after it, after a longer backoff", async () => {
  const closed = closedPort();
  await using a = await standIn(dropsTheFirst);
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await clientOf([a.port, closed], clock, io);
  const dropped = io.next(/reconnecting/);
  const running = chat.run();
  await dropped;
  const refused = io.next(/refused/);
  clock.advance(500);
  await refused;
  equal(io.lines.at(-1), `${refusedAt(closed)}; trying localhost:${a.port} in 1 s`);
  const again = io.next(/Reconnected/);
  clock.advance(999);
  equal(a.connections(), 1, "still waiting at 1499 ms");
  clock.advance(1);
  await again;
  equal(io.lines.at(-1), `Reconnected to localhost:${a.port} after 2s`);
  equal(a.connections(), 2);
  deepEqual(a.hellos[1]?.["resume"], { lobby: 7 });
  chat.quit();
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
});

Deno.test("while reconnecting, a server that is not Banter is skipped for the next; once every server is broken the client stops", async () => {
  await using a = await standIn(async (peer) => {
    if (peer.n === 1) await welcomeV2(peer);
    else await answersHttp(peer);
  });
  await using http = await standIn(answersHttp);
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await clientOf([a.port, http.port], clock, io);
  const dropped = io.next(/reconnecting/);
  const running = chat.run();
  await dropped;
  const skipped = io.next(/does not speak Banter/);
  clock.advance(500);
  await skipped;
  const notBanter = (port: number) =>
    `Cannot connect to localhost:${port}: that port does not speak Banter (it answered HTTP); check --host and --port`;
  equal(io.lines.at(-1), `${notBanter(http.port)}; trying localhost:${a.port} in 1 s`);
  clock.advance(1000);
  equal(await within(running, 5000, "the client to exit"), EXIT.connection);
  equal(io.lines.at(-1), notBanter(a.port));
  deepEqual([a.connections(), http.connections()], [2, 1]);
});

Deno.test("a first login answered bye busy is retried after the backoff at the next server", async () => {
  await using busy = await standIn(async (peer) => {
    await peer.send({
      type: "bye",
      code: "busy",
      message: "Too many logins waiting, try again shortly",
    });
  });
  await using b = await standIn(chats);
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await clientOf([busy.port, b.port], clock, io);
  const told = io.next(/trying/);
  const running = chat.run();
  await told;
  equal(
    io.lines.at(-1),
    `Too many logins waiting, try again shortly; trying localhost:${b.port} in 1 s`,
  );
  equal(b.connections(), 0, "not before the backoff");
  const loggedIn = io.next(/Logged in/);
  clock.advance(500);
  await loggedIn;
  equal(
    io.lines.at(-1),
    `Logged in as alice on localhost:${b.port}. Type /help for commands, end to leave.`,
  );
  chat.quit();
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
});
