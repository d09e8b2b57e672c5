/**
 * Refused connections and failed handshakes in the log and in /metrics: a
 * flood from one address writes a bounded number of lines (the first, then
 * one count per interval of the server's clock), and every refusal or
 * failure is counted exactly once. Real sockets; time is fake.
 *
 * @module
 */
import { deepEqual, equal } from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { FakeClock } from "../_fake_clock.ts";
import { TestClient } from "../_helpers.ts";
import { closedPort } from "../_joke_api.ts";
import { startTestServer, type TestServer } from "../_server.ts";
import { parseExposition } from "../server/_exposition.ts";
import { closedCount, pool, type RawPeer, rawPeer } from "./_attack.ts";
import { captureLogs } from "./_log_capture.ts";

/** The default summary interval. */
const INTERVAL_MS = 10_000;

/** A record's message with its values filled in. */
function rendered(record: LogRecord): string {
  return record.message.map(String).join("");
}

/** The server's log lines about refused connections and failed handshakes. */
function refusalLines(records: readonly LogRecord[]): string[] {
  return records.map(rendered).filter((line) => /^Refused|^TLS handshake failed/.test(line));
}

/** Samples of GET /metrics. */
async function metrics(s: TestServer): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${s.server.httpAddr!.port}/metrics`);
  return parseExposition(await response.text());
}

/** A server on a fake clock with /metrics on. */
function server(clock: FakeClock, config: Parameters<typeof startTestServer>[0] = {}) {
  return startTestServer({
    ...config,
    config: { httpPort: closedPort(), ...config.config },
    deps: { clock },
  });
}

Deno.test("300 silent connections past the per-address handshake cap: two log lines, each refusal counted once, none as a failed handshake", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  await using s = await server(clock, {
    config: { maxPendingHandshakesPerIp: 4, handshakeTimeoutMs: 60_000 },
  });
  const held: RawPeer[] = [];
  for (let i = 0; i < 4; i++) held.push(await rawPeer(s.port));
  const flood = await pool(Array.from({ length: 300 }), 50, () => rawPeer(s.port));
  try {
    await closedCount(flood, 300, 5_000);
    const during = await metrics(s);
    equal(during.get('banter_connections_refused_total{reason="handshake_per_address"}'), 300);
    equal(during.get("banter_tls_handshakes_failed_total"), 0);
    deepEqual(refusalLines(logs.records), [
      "Refused a connection from 127.0.0.1 (pending-handshake cap per address)",
    ]);

    clock.advance(INTERVAL_MS);
    deepEqual(refusalLines(logs.records).slice(1), [
      "Refused 299 more connections from 127.0.0.1 in the last 10 s (pending-handshake cap per address)",
    ]);
    clock.advance(INTERVAL_MS);
    equal(refusalLines(logs.records).length, 2, "a quiet interval writes nothing");

    // The four held ones time out: four failures, once each, two more lines.
    clock.advance(60_000 - 2 * INTERVAL_MS);
    await closedCount(held, 4, 5_000);
    clock.advance(INTERVAL_MS);
    const after = await metrics(s);
    equal(after.get("banter_tls_handshakes_failed_total"), 4);
    equal(after.get('banter_connections_refused_total{reason="handshake_per_address"}'), 300);
    deepEqual(refusalLines(logs.records).slice(2), [
      "TLS handshake failed from 127.0.0.1: TLS handshake timed out",
      "TLS handshake failed 3 more times from 127.0.0.1 in the last 10 s (last: TLS handshake timed out)",
    ]);
  } finally {
    for (const p of [...held, ...flood]) p[Symbol.dispose]();
  }
});

Deno.test("100 connections that send garbage instead of a ClientHello: 100 failed handshakes counted, two log lines", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  await using s = await server(clock, { config: { maxPendingHandshakesPerIp: 1_000 } });
  const garbage = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const peers = await pool(Array.from({ length: 100 }), 25, () => rawPeer(s.port, garbage));
  try {
    await closedCount(peers, 100, 5_000);
    equal((await metrics(s)).get("banter_tls_handshakes_failed_total"), 100);
    clock.advance(INTERVAL_MS);
    const lines = refusalLines(logs.records);
    equal(lines.length, 2, lines.join("\n"));
    equal(lines[0]!.startsWith("TLS handshake failed from 127.0.0.1: "), true, lines[0]);
    equal(
      lines[1]!.startsWith("TLS handshake failed 99 more times from 127.0.0.1 in the last 10 s"),
      true,
      lines[1],
    );
  } finally {
    for (const p of peers) p[Symbol.dispose]();
  }
});

Deno.test("40 connections past the per-address connection cap get bye busy: two log lines, each refusal counted once", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  await using s = await server(clock, { config: { maxConnectionsPerIp: 2 } });
  const held = [await TestClient.connect(s.port), await TestClient.connect(s.port)];
  await Promise.all(held.map((c) => c.until((f) => f.type === "hello")));
  const refused = await pool(Array.from({ length: 40 }), 20, async () => {
    await using client = await TestClient.connect(s.port);
    return await client.untilClosed();
  });
  try {
    for (const frames of refused) {
      deepEqual(frames, [{
        type: "bye",
        code: "busy",
        message: "Too many connections from your address",
      }]);
    }
    const samples = await metrics(s);
    equal(samples.get('banter_connections_refused_total{reason="per_address"}'), 40);
    equal(samples.get("banter_tls_handshakes_failed_total"), 0);
    clock.advance(INTERVAL_MS);
    deepEqual(refusalLines(logs.records), [
      "Refused a connection from 127.0.0.1 (too many connections from the address)",
      "Refused 39 more connections from 127.0.0.1 in the last 10 s (too many connections from the address)",
    ]);
  } finally {
    await Promise.all(held.map((c) => c[Symbol.asyncDispose]()));
  }
});
