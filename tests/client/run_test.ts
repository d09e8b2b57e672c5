import { deepEqual, equal } from "node:assert/strict";
import { ChatClient, EXIT } from "../../lib/client/run.ts";
import { aliceClient, LOW, RecordingIO } from "./_stand_in.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { listen, type TlsServer } from "../../lib/net/tls_server.ts";
import { LineReader } from "../../lib/wire/framing.ts";
import { encodeFrame, type ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import { testPki, within } from "../_helpers.ts";

/** Play the server's side of a login; returns the client's further lines. */
async function welcome(conn: Connection): Promise<LineReader> {
  const lines = new LineReader(conn.source);
  const send = (frame: ServerFrame) => conn.sink.write(encodeFrame(frame));
  await send({ type: "hello", version: 1, server: "stand-in/1" });
  await lines.next(); // hello
  await send({ type: "auth", attempts_left: 3 });
  await lines.next(); // login
  await send({ type: "welcome", user: "alice", role: "user" });
  return lines;
}

/**
 * A stand-in server on real time: the first connection is welcomed and
 * closed at once, later ones are welcomed and said goodbye to after `end`.
 */
async function dropsTheFirst(): Promise<{ server: TlsServer; connections: () => number }> {
  const p = await testPki();
  let connections = 0;
  const server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: p.server.cert, key: p.server.key },
    async (conn) => {
      const first = ++connections === 1;
      const lines = await welcome(conn);
      if (!first) {
        for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
          if (line.includes('"end"')) {
            await conn.sink.write(encodeFrame({ type: "bye", code: "end", message: "Goodbye" }));
            break;
          }
        }
      }
      await conn.sink.close();
    },
  );
  return { server, connections: () => connections };
}

/**
 * A client on a fake clock whose first connection the server drops: resolves
 * once the client has said it will reconnect.
 */
async function droppedOnce() {
  const { server, connections } = await dropsTheFirst();
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await aliceClient(server.addr.port, clock, io);
  const dropped = io.next(/reconnecting/);
  const running = chat.run();
  await dropped;
  return {
    server,
    connections,
    clock,
    io,
    chat,
    running,
    [Symbol.asyncDispose]: () => server.close(0),
  };
}

Deno.test("after a drop the client waits its backoff on the clock, then reconnects and logs in again", async () => {
  await using d = await droppedOnce();
  const { connections, clock, io, chat, running } = d;
  equal(io.lines.at(-1), "Connection closed by the server; reconnecting in 1 s");
  clock.advance(499);
  equal(clock.pendingTimers, 1, "still waiting at 499 ms");
  equal(connections(), 1);
  const again = io.next(/Reconnected after/);
  clock.advance(1);
  await again;
  equal(io.lines.at(-1), "Reconnected after 1s");
  equal(connections(), 2);
  chat.quit();
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
});

Deno.test("quit() while the client waits to reconnect exits 0 without connecting again", async () => {
  await using d = await droppedOnce();
  const { connections, clock, chat, running } = d;
  chat.quit();
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
  equal(connections(), 1);
  equal(clock.pendingTimers, 0, "the wait was cancelled");
});

Deno.test("failed reconnects back off on the clock, doubling, and give up after maxReconnects", async () => {
  await using d = await droppedOnce();
  const { server, clock, io, running } = d;
  await server.close(0); // from now on the port refuses
  const refused = io.next(/retrying/);
  clock.advance(500);
  await refused;
  const gaveUp = io.next(/giving up/);
  clock.advance(1000);
  await gaveUp;
  equal(await within(running, 5000, "the client to exit"), EXIT.connection);
  const port = server.addr.port;
  deepEqual(io.lines.slice(-3), [
    "Connection closed by the server; reconnecting in 1 s",
    `Cannot connect to localhost:${port}: connection refused (is the server running?); retrying in 1 s`,
    `Cannot connect to localhost:${port}: connection refused (is the server running?); giving up after 2 attempts`,
  ]);
});

/** How the stand-in answers a connection. */
type Answer = "busy at once" | "busy at login" | "welcome";

/**
 * A stand-in server on real time that answers its n-th connection with
 * `plan(n)`: `bye busy` before hello (its admission is full), `bye busy`
 * after the login (its login queue is full), or a welcome and, after `end`,
 * a goodbye.
 */
async function busyServer(plan: (n: number) => Answer) {
  const p = await testPki();
  let connections = 0;
  const bye = { type: "bye", code: "busy", message: "Too many logins waiting, try again shortly" };
  const server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: p.server.cert, key: p.server.key },
    async (conn) => {
      const answer = plan(++connections);
      const send = (frame: ServerFrame) => conn.sink.write(encodeFrame(frame));
      if (answer === "busy at once") await send(bye as ServerFrame);
      else if (answer === "busy at login") {
        const lines = new LineReader(conn.source);
        await send({ type: "hello", version: 1, server: "stand-in/1" });
        await lines.next(); // hello
        await send({ type: "auth", attempts_left: 3 });
        await lines.next(); // login
        await send(bye as ServerFrame);
      } else {
        const lines = await welcome(conn);
        for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
          if (line.includes('"end"')) {
            await send({ type: "bye", code: "end", message: "Goodbye" });
            break;
          }
        }
      }
      await conn.sink.close();
    },
  );
  return {
    server,
    connections: () => connections,
    [Symbol.asyncDispose]: () => server.close(0),
  };
}

Deno.test("a first login answered bye busy is retried after the backoff on the clock, and an end typed meanwhile goes out after the login", async () => {
  await using s = await busyServer((n) => n === 1 ? "busy at login" : "welcome");
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await aliceClient(s.server.addr.port, clock, io);
  const told = io.next(/retrying/);
  const running = chat.run();
  chat.quit(); // as scripted input does at its end: "end" waits for the login
  await told;
  equal(io.lines.at(-1), "Too many logins waiting, try again shortly; retrying in 1 s");
  clock.advance(499);
  equal(clock.pendingTimers, 1, "still waiting at 499 ms");
  equal(s.connections(), 1);
  const loggedIn = io.next(/Logged in as alice/);
  clock.advance(1);
  await loggedIn;
  equal(await within(running, 5000, "the client to exit"), EXIT.ok);
  equal(s.connections(), 2);
  equal(io.lines.at(-1), "Goodbye");
});

Deno.test("a server that stays busy before the first login is retried maxReconnects times, then the client gives up with status 1", async () => {
  await using s = await busyServer(() => "busy at once");
  const clock = new FakeClock();
  const io = new RecordingIO();
  const chat = await aliceClient(s.server.addr.port, clock, io);
  const first = io.next(/retrying in 1 s/);
  const running = chat.run();
  await first;
  const second = io.next(/retrying in 1 s/);
  clock.advance(500);
  await second;
  const gaveUp = io.next(/giving up/);
  clock.advance(1000);
  await gaveUp;
  equal(await within(running, 5000, "the client to exit"), EXIT.connection);
  equal(s.connections(), 3);
  deepEqual(io.lines, [
    "Too many logins waiting, try again shortly; retrying in 1 s",
    "Too many logins waiting, try again shortly; retrying in 1 s",
    "Too many logins waiting, try again shortly; giving up after 2 attempts",
  ]);
});

Deno.test("with reconnect off a first login answered bye busy exits 1 at once", async () => {
  await using s = await busyServer(() => "busy at login");
  const p = await testPki();
  const io = new RecordingIO();
  const chat = new ChatClient({
    connect: { hostname: "localhost", port: s.server.addr.port, caCerts: [p.ca.cert] },
    io,
    random: LOW,
    clock: new FakeClock(),
    username: "alice",
    password: "irrelevant password",
    reconnect: false,
  });
  equal(await within(chat.run(), 5000, "the client to exit"), EXIT.connection);
  deepEqual([s.connections(), io.lines], [1, ["Too many logins waiting, try again shortly"]]);
});

/**
 * A stand-in server saying hello with `versions` (or none, as a version 1
 * server does): records the client's hello and the frames after login.
 */
async function recordsHello(versions: number[] | undefined) {
  const p = await testPki();
  const heard: string[] = [];
  const done = Promise.withResolvers<void>();
  const server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: p.server.cert, key: p.server.key },
    async (conn) => {
      const lines = new LineReader(conn.source);
      const send = (frame: ServerFrame) => conn.sink.write(encodeFrame(frame));
      await send({
        type: "hello",
        version: 1,
        server: "stand-in/1",
        ...(versions === undefined ? {} : { versions }),
      });
      heard.push(await lines.next() ?? "");
      await send({ type: "auth", attempts_left: 3 });
      await lines.next(); // login
      await send({ type: "welcome", user: "alice", role: "user" });
      for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
        heard.push(line);
        if (line.includes('"end"')) break;
      }
      await send({ type: "bye", code: "end", message: "Goodbye" });
      await conn.sink.close();
      done.resolve();
    },
  );
  return { server, heard, done: done.promise };
}

Deno.test("the client speaks version 2 when the server lists it, else falls back to version 1", async () => {
  for (const [versions, expected] of [[[1, 2], 2], [undefined, 1]] as const) {
    const stand = await recordsHello(versions === undefined ? undefined : [...versions]);
    try {
      const chat = await aliceClient(stand.server.addr.port, new FakeClock(), new RecordingIO());
      chat.say("hi", "dev");
      chat.say("end");
      equal(await within(chat.run(), 5000, "the client to exit"), EXIT.ok);
      await stand.done;
      const [hello, said] = stand.heard.map((l) => JSON.parse(l));
      equal(hello.version, expected);
      equal(chat.version, expected);
      deepEqual(
        said,
        // Version 2: with an id, so its ack says it was stored (UnackedLines).
        expected === 2 ? { type: "say", text: "hi", room: "dev", id: "line:1" } : {
          type: "say",
          text: "hi",
        },
      );
    } finally {
      await stand.server.close(0);
    }
  }
});
