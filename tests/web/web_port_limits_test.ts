import { deepEqual, equal } from "node:assert/strict";
import { join } from "node:path";
import { startWebServer } from "../_browser.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import type { TestServer } from "../_server.ts";

const TIMEOUT_MS = 10_000;

async function tlsTo(s: TestServer): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: s.server.webAddr!.port,
    caCerts: [await Deno.readTextFile(join(s.dir, "certs", "ca.crt"))],
  });
  await conn.handshake();
  return conn;
}

/** Resolves when the server has closed `conn` (a read ends or fails). */
async function closedByServer(conn: Deno.Conn): Promise<true> {
  const buffer = new Uint8Array(4096);
  try {
    while (await conn.read(buffer) !== null) { /* drain */ }
  } catch {
    // A reset is a close too.
  }
  return true;
}

/** Read one whole HTTP/1.1 response (headers and a Content-Length body). */
async function readResponse(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("Cannot read the response: connection closed");
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
    const end = text.indexOf("\r\n\r\n");
    const length = /content-length: (\d+)/i.exec(text);
    if (
      end !== -1 && length && new TextEncoder().encode(text).length >= end + 4 + Number(length[1])
    ) {
      return text;
    }
  }
}

Deno.test("one silent TCP connection to the web port does not hold the server's shutdown", async () => {
  const s = await startWebServer();
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: s.server.webAddr!.port });
  try {
    await within(s.server.shutdown(), 5_000, "the shutdown");
    await within(s.server.closed, 5_000, "the server closed");
  } finally {
    silent.close();
    await s[Symbol.asyncDispose]();
  }
});

Deno.test("a TCP connection that never starts TLS on the web port is closed at the handshake timeout", async () => {
  const clock = new FakeClock();
  await using s = await startWebServer({
    config: { handshakeTimeoutMs: TIMEOUT_MS },
    deps: { clock },
  });
  const baseline = clock.pendingTimers;
  using silent = await Deno.connect({ hostname: "127.0.0.1", port: s.server.webAddr!.port });
  await clock.untilPendingTimers(baseline + 1); // its handshake timer
  clock.advance(TIMEOUT_MS);
  equal(await within(closedByServer(silent), 5_000, "the close"), true);
});

Deno.test("a web connection idle after its request is closed after the request timeout", async () => {
  const clock = new FakeClock();
  await using s = await startWebServer({
    config: { handshakeTimeoutMs: TIMEOUT_MS },
    deps: { clock },
  });
  using conn = await tlsTo(s);
  await conn.write(new TextEncoder().encode("GET /app.css HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  const response = await within(readResponse(conn), 5_000, "the response");
  equal(response.startsWith("HTTP/1.1 200"), true);
  clock.advance(TIMEOUT_MS - 1);
  clock.advance(1);
  equal(await within(closedByServer(conn), 5_000, "the close"), true);
});

Deno.test("the web port holds the per-address connection cap, and says so", async () => {
  await using s = await startWebServer({ config: { webConnectionsPerIp: 2 } });
  using first = await tlsTo(s);
  using second = await tlsTo(s);
  using third = await tlsTo(s);
  // The server may finish the three handshakes in any order: one of them is refused.
  const answers = await within(
    Promise.all([first, second, third].map(async (conn) => {
      try {
        await conn.write(
          new TextEncoder().encode("GET /app.css HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        );
        const response = await readResponse(conn);
        return response.slice(0, 12) +
          (response.includes("Too many connections from your address") ? " per address" : "");
      } catch {
        return "closed";
      }
    })),
    5_000,
    "three answers",
  );
  deepEqual(answers.sort(), ["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 503 per address"]);
});

Deno.test("shutdown closes an idle keep-alive web connection at once, not at the deadline", async () => {
  const clock = new FakeClock(); // time stands still: only the close itself can end it
  const s = await startWebServer({ deps: { clock } });
  using conn = await tlsTo(s);
  await conn.write(new TextEncoder().encode("GET /app.css HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  await within(readResponse(conn), 5_000, "the response");
  try {
    await within(s.server.shutdown(), 5_000, "the shutdown");
    equal(await within(closedByServer(conn), 5_000, "the close"), true);
  } finally {
    await s[Symbol.asyncDispose]();
  }
});
