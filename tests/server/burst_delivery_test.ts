import { equal } from "node:assert/strict";
import { connect } from "../../lib/net/tls_client.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { testPki, within } from "../_helpers.ts";
import { passwordOf, startTestServer } from "../_server.ts";

const CLIENTS = 100;
const LINES = 50;
/** The one non-ASCII byte of every line sent (`§` is C2 A7): one per delivery received. */
const MARK = 0xa7;
const encoder = new TextEncoder();

/** A logged-in client that counts the deliveries of the burst it receives. */
class Counter {
  received = 0;
  /** Called with the count after each chunk that held deliveries. */
  onCount: ((received: number) => void) | undefined;
  constructor(readonly conn: Connection) {}

  /** Read until the connection ends, counting {@linkcode MARK} bytes. */
  async read(): Promise<void> {
    for (;;) {
      const chunk = await this.conn.source.read();
      if (chunk === undefined) return;
      let at = chunk.indexOf(MARK);
      if (at === -1) continue;
      for (; at !== -1; at = chunk.indexOf(MARK, at + 1)) this.received++;
      this.onCount?.(this.received);
    }
  }

  /** Resolves once `count` deliveries arrived. */
  until(count: number): Promise<void> {
    if (this.received >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.onCount = (received) => {
        if (received < count) return;
        this.onCount = undefined;
        resolve();
      };
    });
  }
}

async function logIn(port: number, ca: string, name: string): Promise<Connection> {
  const conn = await connect({ hostname: "localhost", port, caCerts: [ca] });
  const lines = [
    { type: "hello", version: 1 },
    { type: "login", username: name, password: passwordOf(name) },
  ].map((frame) => JSON.stringify(frame) + "\n").join("");
  await conn.sink.write(encoder.encode(lines));
  let text = "";
  while (!text.includes('"type":"welcome"')) {
    const chunk = await conn.source.read();
    if (chunk === undefined) throw new Error(`Cannot log ${name} in: connection closed`);
    text += new TextDecoder().decode(chunk);
  }
  return conn;
}

Deno.test("100 clients writing 50 lines at once each into one room: every one of the 500,000 deliveries arrives", async () => {
  const users = Array.from({ length: CLIENTS }, (_, i) => `u${String(i).padStart(3, "0")}`);
  await using s = await startTestServer({
    users,
    config: {
      rateBurst: 1_000_000,
      ratePerSecond: 1_000_000,
      maxConnectionsPerIp: 1000,
      loginQueue: 1000,
      loginQueuePerAddress: 1000,
    },
  });
  const { ca } = await testPki();
  // Ten logins at a time, in the order of the names.
  const counters: Counter[] = [];
  for (let i = 0; i < users.length; i += 10) {
    const batch = users.slice(i, i + 10).map((name) => logIn(s.port, ca.cert, name));
    for (const conn of await Promise.all(batch)) counters.push(new Counter(conn));
  }
  const reading = counters.map((c) => c.read());
  const burst = (name: string) =>
    encoder.encode(
      Array.from(
        { length: LINES },
        (_, i) =>
          JSON.stringify({ type: "say", text: `\u00a7 ${name} line ${i} ${"x".repeat(60)}` }) +
          "\n",
      ).join(""),
    );
  await Promise.all(counters.map((c, i) => c.conn.sink.write(burst(users[i]!))));
  const expected = CLIENTS * LINES;
  await within(Promise.all(counters.map((c) => c.until(expected))), 30_000, "every delivery");
  for (const c of counters) equal(c.received, expected);
  for (const c of counters) c.conn.close();
  await Promise.allSettled(reading);
});
