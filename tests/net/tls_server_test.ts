import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import type { Connection } from "../../lib/net/connection.ts";
import { connect, ConnectError } from "../../lib/net/tls_client.ts";
import { listen, type TransportEngine } from "../../lib/net/tls_server.ts";
import type { TimerId } from "../../lib/util/clock.ts";
import { echoServer } from "../_echo_server.ts";
import { FakeClock } from "../_fake_clock.ts";
import { testPki, within } from "../_helpers.ts";
import { probe, tls11ClientHello } from "../_tls_probe.ts";

async function roundTrip(conn: Connection, text: string): Promise<string> {
  await conn.sink.write(new TextEncoder().encode(text));
  const value = await within(conn.source.read(), 5000, "echo");
  return new TextDecoder().decode(value);
}

for (const engine of ["deno", "node"] as TransportEngine[]) {
  Deno.test(`${engine} transport: client and server handshake with generated certs`, async () => {
    await using s = await echoServer({ engine });
    equal(s.server.engine, engine);
    const conn = await s.connect();
    equal(await roundTrip(conn, "ping"), "ping");
    equal(s.peers[0]?.address, "127.0.0.1");
    equal(s.peers[0]?.certificateName, undefined);
    conn.close();
  });

  Deno.test(`${engine} transport: an answer written after the peer half-closed arrives whole, then a clean close`, async () => {
    const p = await testPki();
    const answered = Promise.withResolvers<void>();
    const server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      cert: p.server.cert,
      key: p.server.key,
      engine,
    }, async (conn) => {
      // The request, up to the peer's end of writing; then the answer.
      while (await conn.source.read() !== undefined);
      for (let i = 0; i < 6; i++) await conn.sink.write(new Uint8Array(8192).fill(66));
      await conn.sink.close();
      conn.close();
      answered.resolve();
    });
    try {
      const client = await Deno.connectTls({
        hostname: "localhost",
        port: server.addr.port,
        caCerts: [p.ca.cert],
      });
      await client.write(new TextEncoder().encode("GET\n"));
      await client.closeWrite();
      let received = 0;
      const buffer = new Uint8Array(65536);
      // A read error (no close_notify, a reset) fails the test here.
      for (let n = await client.read(buffer); n !== null; n = await client.read(buffer)) {
        received += n;
      }
      equal(received, 6 * 8192, "every byte written after the half-close");
      client.close();
      await within(answered.promise, 5000, "the handler to finish");
    } finally {
      await server.close();
    }
  });

  Deno.test(`${engine} transport: plaintext, HTTP and TLS 1.1 probes are refused while a client keeps working`, async () => {
    await using s = await echoServer({ engine });
    const good = await s.connect();
    for (
      const payload of [
        '{"type":"hello","version":1}\n',
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        tls11ClientHello(),
        crypto.getRandomValues(new Uint8Array(512)),
      ]
    ) {
      const result = await probe(s.server.addr.port, payload);
      ok(result.closed, "probe connection closed");
      // Nothing but (at most) a TLS alert record comes back: never a ServerHello.
      ok(
        result.bytes.length === 0 || result.bytes[0] === 0x15,
        `unexpected answer ${result.bytes.subarray(0, 8)}`,
      );
      equal(await roundTrip(good, "still here"), "still here");
    }
    good.close();
  });

  Deno.test(`${engine} transport: a peer that never handshakes is timed out on the clock and frees its handshake slot`, async () => {
    const clock = new WatchedClock();
    // Every report: the refused client and the dropped silent peer are no
    // failed handshakes of their own (node used to add "socket hang up").
    const reported: string[] = [];
    const s = await echoServer({
      engine,
      clock,
      handshakeTimeoutMs: 10_000,
      maxPendingHandshakesPerIp: 1,
      onHandshakeError: (error) => reported.push(error.message),
    });
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: s.server.addr.port });
    try {
      await within(clock.scheduled.promise, 5000, "the server to time the handshake");
      // The one slot for 127.0.0.1 is taken: a real client is closed at once.
      await refusedAfterHandshake(s.connect());
      clock.advance(9_999);
      deepEqual(reported, []);
      clock.advance(1);
      deepEqual(reported, ["TLS handshake timed out"]);
      if (engine === "node") {
        const n = await within(
          silent.read(new Uint8Array(16)).catch(() => null),
          5000,
          "the server to drop the silent peer",
        );
        equal(n, null);
      }
      // Deno 2.9.6 cannot free the silent socket itself (documented on
      // ListenOptions.engine), but on both engines the slot is free again.
      const conn = await s.connect();
      equal(await roundTrip(conn, "after"), "after");
      conn.close();
      deepEqual(reported, ["TLS handshake timed out"], "one report, for the timeout only");
    } finally {
      silent.close();
      await clock.runUntilSettled(s.server.close(1000));
    }
  });
}

/** A fake clock that also says when a timer was first set. */
class WatchedClock extends FakeClock {
  readonly scheduled = Promise.withResolvers<void>();

  override setTimeout(callback: () => void, ms: number): TimerId {
    this.scheduled.resolve();
    return super.setTimeout(callback, ms);
  }
}

Deno.test("connect refuses a server certificate from another CA", async () => {
  const p = await testPki();
  await using s = await echoServer();
  await rejects(
    s.connect({ caCerts: [p.foreignCa.cert] }),
    (e) => e instanceof ConnectError && e.code === "unknown_ca",
  );
});

Deno.test("connect refuses a certificate for another host name", async () => {
  const p = await testPki();
  await using s = await echoServer({ cert: p.otherNameServer.cert, key: p.otherNameServer.key });
  await rejects(s.connect(), (e) => e instanceof ConnectError && e.code === "name_mismatch");
});

Deno.test("connect refuses an expired server certificate", async () => {
  const p = await testPki();
  await using s = await echoServer({ cert: p.expiredServer.cert, key: p.expiredServer.key });
  await rejects(s.connect(), (e) => e instanceof ConnectError && e.code === "expired");
});

Deno.test("connect reports a refused port", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await rejects(
    connect({ hostname: "127.0.0.1", port }),
    (e) => e instanceof ConnectError && e.code === "refused",
  );
});

Deno.test("mutual TLS: a verified client certificate names the peer", async () => {
  const p = await testPki();
  await using s = await echoServer({ clientCa: p.ca.cert, requireClientCert: true });
  equal(s.server.engine, "node");
  const conn = await s.connect({ cert: p.alice.cert, key: p.alice.key });
  equal(await roundTrip(conn, "hi"), "hi");
  deepEqual(s.peers.map((x) => x.certificateName), ["alice"]);
  conn.close();
});

/** With TLS 1.3 a refused client certificate shows on the first read. */
async function refusedAfterHandshake(open: Promise<Connection>): Promise<void> {
  let conn: Connection;
  try {
    conn = await open;
  } catch (error) {
    ok(error instanceof ConnectError, String(error));
    return;
  }
  const result = await within(
    conn.source.read().then((chunk) => (chunk === undefined ? "closed" : "data"), () => "closed"),
    5000,
    "the server to refuse the client",
  );
  equal(result, "closed");
  conn.close();
}

Deno.test("mutual TLS: a missing client certificate is refused when required", async () => {
  const p = await testPki();
  await using s = await echoServer({ clientCa: p.ca.cert, requireClientCert: true });
  await refusedAfterHandshake(s.connect());
  equal(s.peers.length, 0);
});

Deno.test("mutual TLS: a client certificate from a foreign CA is refused", async () => {
  const p = await testPki();
  await using s = await echoServer({ clientCa: p.ca.cert, requireClientCert: true });
  await refusedAfterHandshake(s.connect({ cert: p.foreignAlice.cert, key: p.foreignAlice.key }));
  equal(s.peers.length, 0);
});

Deno.test("mutual TLS optional: a client without certificate gets in unnamed", async () => {
  const p = await testPki();
  await using s = await echoServer({ clientCa: p.ca.cert });
  const conn = await s.connect();
  equal(await roundTrip(conn, "hi"), "hi");
  equal(s.peers[0]?.certificateName, undefined);
  conn.close();
});
