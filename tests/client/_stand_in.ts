/**
 * What the client unit tests share: a {@linkcode ClientIO} that records the
 * user's lines, jitter-free randomness, and stand-in servers on real TLS
 * sockets that play a script per connection.
 *
 * @module
 */
import { ChatClient, type ClientIO } from "../../lib/client/run.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { listen, type TlsServer } from "../../lib/net/tls_server.ts";
import type { Clock, Random } from "../../lib/util/clock.ts";
import { LineReader } from "../../lib/wire/framing.ts";
import { encodeFrame, type ServerFrame } from "../../lib/wire/protocol.ts";
import { testPki, within } from "../_helpers.ts";

/** No jitter: each backoff delay is half its ceiling (500 ms, 1000 ms, ...). */
export const LOW: Random = { float: () => 0, bytes: (n) => new Uint8Array(n) };

/**
 * A chat client logging in as alice to a stand-in on `port`, trusting the
 * test CA, without jitter, giving up after two reconnects.
 */
export async function aliceClient(port: number, clock: Clock, io: ClientIO): Promise<ChatClient> {
  const p = await testPki();
  return new ChatClient({
    connect: { hostname: "localhost", port, caCerts: [p.ca.cert] },
    io,
    random: LOW,
    clock,
    username: "alice",
    password: "irrelevant password",
    maxReconnects: 2,
  });
}

/** What the client tells its user, with a way to wait for a line. */
export class RecordingIO implements ClientIO {
  readonly canAsk = false;
  readonly lines: string[] = [];
  #waiters: { match: RegExp; resolve: () => void }[] = [];

  event(): void {}

  info(text: string): void {
    this.lines.push(text);
    for (const waiter of this.#waiters.filter((w) => w.match.test(text))) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  askUsername(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  askPassword(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  /** Resolves at the first line (from now on) that matches. */
  next(match: RegExp): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ match, resolve });
    return within(promise, 5000, `a line matching ${match}`);
  }
}

/** One side of a stand-in's connection: send frames, read the client's lines. */
export interface StandInPeer {
  send(frame: ServerFrame): Promise<void>;
  /** Write text as it is (to play a server that is not Banter). */
  raw(text: string): Promise<void>;
  /** The client's next line; undefined at its end. */
  lines: { next(): Promise<string | undefined> };
  /** The n-th connection to this stand-in (from 1). */
  n: number;
}

/** A stand-in server: its port, connections so far, and the client's hellos. */
export interface StandIn extends AsyncDisposable {
  server: TlsServer;
  port: number;
  connections(): number;
  /** Each connection's hello from the client, parsed. */
  hellos: Record<string, unknown>[];
}

/** Options for {@linkcode standIn}. */
export interface StandInOptions {
  /** Serve this certificate instead of the test PKI's server one. */
  cert?: { cert: string; key: string };
}

/**
 * A TLS stand-in server on 127.0.0.1 that plays `script` for each
 * connection, then closes it.
 *
 * @param script What to say; its first read line is the client's hello.
 * @param options Certificate.
 */
export async function standIn(
  script: (peer: StandInPeer) => Promise<void>,
  options: StandInOptions = {},
): Promise<StandIn> {
  const p = await testPki();
  const cert = options.cert ?? p.server;
  let connections = 0;
  const hellos: Record<string, unknown>[] = [];
  const server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: cert.cert, key: cert.key },
    async (conn: Connection) => {
      const n = ++connections;
      const reader = new LineReader(conn.source);
      const lines = {
        next: async () => {
          const line = await reader.next();
          if (line !== undefined && line.includes('"type":"hello"')) hellos.push(JSON.parse(line));
          return line;
        },
      };
      const send = async (frame: ServerFrame) => {
        await conn.sink.write(encodeFrame(frame));
      };
      try {
        const raw = async (text: string) => {
          await conn.sink.write(new TextEncoder().encode(text));
        };
        await script({ send, raw, lines, n });
      } finally {
        await conn.sink.close().catch(() => undefined);
      }
    },
  );
  return {
    server,
    port: server.addr.port,
    connections: () => connections,
    hellos,
    [Symbol.asyncDispose]: () => server.close(0),
  };
}

/**
 * Play a version 2 login as `alice`, then say `messages` in #lobby.
 *
 * @param peer The connection.
 * @param ids Ids of the messages to say after the welcome.
 */
export async function welcomeV2(peer: StandInPeer, ids: number[] = []): Promise<void> {
  await peer.send({ type: "hello", version: 1, versions: [1, 2], server: "stand-in/2" });
  await peer.lines.next(); // hello
  await peer.send({ type: "auth", attempts_left: 3 });
  await peer.lines.next(); // login
  await peer.send({ type: "welcome", user: "alice", role: "user", version: 2 });
  for (const id of ids) {
    await peer.send({ type: "message", id, room: "lobby", from: "bob", text: `m${id}`, ts: id });
  }
}

/** Read the client's lines until it says `end`, then say goodbye. */
export async function untilEnd(peer: StandInPeer): Promise<void> {
  for (let line = await peer.lines.next(); line !== undefined; line = await peer.lines.next()) {
    if (line.includes('"end"')) {
      await peer.send({ type: "bye", code: "end", message: "Goodbye" });
      return;
    }
  }
}

/** A loopback port nothing listens on (bound, then closed). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
