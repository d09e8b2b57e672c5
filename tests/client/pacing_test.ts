import { deepEqual, equal } from "node:assert/strict";
import { ChatClient, type ClientIO, END_WAIT_MS, EXIT } from "../../lib/client/run.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { listen, type TlsServer } from "../../lib/net/tls_server.ts";
import type { Random } from "../../lib/util/clock.ts";
import { LineReader } from "../../lib/wire/framing.ts";
import { encodeFrame, type ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import { testPki, within } from "../_helpers.ts";

const LOW: Random = { float: () => 0, bytes: (n) => new Uint8Array(n) };

class QuietIO implements ClientIO {
  readonly canAsk = false;
  readonly lines: string[] = [];
  event(): void {}
  info(text: string): void {
    this.lines.push(text);
  }
  askUsername(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  askPassword(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}

/** A stand-in server that welcomes one client and records the `say` texts it sends. */
interface StandIn extends AsyncDisposable {
  server: TlsServer;
  /** The texts said so far. */
  said: string[];
  /** Wait until `n` texts were said. */
  until(n: number): Promise<void>;
  /** Send a frame to the client. */
  send(frame: ServerFrame): Promise<void>;
  /** Logged in. */
  welcomed: Promise<void>;
}

async function standIn(welcome: Record<string, unknown> = {}): Promise<StandIn> {
  const p = await testPki();
  const said: string[] = [];
  let wake = () => {};
  let conn: Connection | undefined;
  const welcomed = Promise.withResolvers<void>();
  const server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: p.server.cert, key: p.server.key },
    async (c) => {
      conn = c;
      const lines = new LineReader(c.source);
      const send = (frame: unknown) =>
        c.sink.write(new TextEncoder().encode(JSON.stringify(frame) + "\n"));
      await send({ type: "hello", version: 1, server: "stand-in/1" });
      await lines.next();
      await send({ type: "auth", attempts_left: 3 });
      await lines.next();
      await send({ type: "welcome", user: "alice", role: "user", ...welcome });
      welcomed.resolve();
      for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
        const frame = JSON.parse(line);
        if (frame.type !== "say") continue;
        said.push(frame.text);
        wake();
        if (frame.text === "end") {
          await send({ type: "bye", code: "end", message: "Goodbye" });
          break;
        }
      }
      await c.sink.close();
    },
  );
  return {
    server,
    said,
    welcomed: welcomed.promise,
    until(n) {
      const { promise, resolve } = Promise.withResolvers<void>();
      const check = () => {
        if (said.length >= n) resolve();
      };
      wake = check;
      check();
      return within(promise, 5000, `${n} lines said (${said.length} so far)`);
    },
    async send(frame) {
      if (conn === undefined) throw new Error("Cannot send: no client connected");
      await conn.sink.write(encodeFrame(frame));
    },
    [Symbol.asyncDispose]: () => server.close(0),
  };
}

/** A client of `s` on a fake clock: running, and welcomed by the stand-in. */
async function runClient(s: StandIn) {
  const p = await testPki();
  const clock = new FakeClock();
  const chat = new ChatClient({
    connect: { hostname: "localhost", port: s.server.addr.port, caCerts: [p.ca.cert] },
    io: new QuietIO(),
    random: LOW,
    clock,
    username: "alice",
    password: "irrelevant password",
    reconnect: false,
  });
  const running = chat.run();
  await s.welcomed;
  return { clock, chat, running };
}

Deno.test("many lines at once are paced under the server's rate, none dropped", async () => {
  await using s = await standIn();
  const { clock, chat, running } = await runClient(s);
  for (let i = 0; i < 15; i++) chat.say(`line ${i}`);
  // Default limits (burst 10, 2/s) less a margin: 9 at once, then one per 556 ms.
  await s.until(9);
  equal(chat.queued, 6);
  clock.advance(555);
  equal(chat.queued, 6, "not before the bucket has a token");
  clock.advance(1);
  await s.until(10);
  clock.advance(556 * 5);
  await s.until(15);
  deepEqual(s.said, Array.from({ length: 15 }, (_, i) => `line ${i}`));
  chat.quit();
  clock.advance(556); // end is paced too
  equal(await within(running, 5000, "exit"), EXIT.ok);
});

Deno.test("the pace follows welcome.limits.rate when the server sends it", async () => {
  await using s = await standIn({
    limits: {
      message_chars: 100,
      message_lines: 50,
      rate: { burst: 3, per_second: 10 },
      history_limit: 50,
      max_sessions: 8,
      retention_days: 30,
    },
  });
  const { clock, chat, running } = await runClient(s);
  for (let i = 0; i < 4; i++) chat.say(`line ${i}`);
  await s.until(2);
  equal(chat.limits.messageChars, 100);
  equal(chat.queued, 2);
  clock.advance(112); // 9 a second
  await s.until(3);
  clock.advance(112);
  await s.until(4);
  chat.quit();
  clock.advance(112); // end is paced too
  equal(await within(running, 5000, "exit"), EXIT.ok);
});

Deno.test("a scripted end waits for the joke asked for before it", async () => {
  await using s = await standIn();
  const { chat, running } = await runClient(s);
  chat.say("get_joke");
  chat.say("end");
  await s.until(1);
  equal(s.said.length, 1, "end held back");
  await s.send({
    type: "message",
    id: 1,
    room: "lobby",
    from: "jokebot",
    text: "a joke",
    ts: 0,
    bot: true,
  });
  await s.until(2);
  deepEqual(s.said, ["get_joke", "end"]);
  equal(await within(running, 5000, "exit"), EXIT.ok);
});

Deno.test("a scripted end waits at most END_WAIT_MS for a reply", async () => {
  await using s = await standIn();
  const { clock, chat, running } = await runClient(s);
  chat.say("get_joke");
  chat.say("end");
  await s.until(1);
  clock.advance(END_WAIT_MS - 1);
  equal(s.said.length, 1);
  clock.advance(1);
  await s.until(2);
  equal(await within(running, 5000, "exit"), EXIT.ok);
});
