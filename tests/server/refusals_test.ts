import { deepEqual, equal } from "node:assert/strict";
import { createServerMetrics } from "../../lib/server/metrics.ts";
import { MAX_SUMMARISED_ADDRESSES, Refusals } from "../../lib/server/refusals.ts";
import { FakeClock } from "../_fake_clock.ts";
import { captureLogs } from "../security/_log_capture.ts";

Deno.test("Refusals summarises an IPv6 /64 as one address, counts every refusal, and sums addresses past the bound as other addresses", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  const metrics = createServerMetrics();
  using refusals = new Refusals({ clock, intervalMs: 10_000, counters: metrics });
  refusals.refused("2001:db8:1:2::1", "per_address");
  refusals.refused("2001:db8:1:2::ffff", "per_address");
  for (let i = 0; i < MAX_SUMMARISED_ADDRESSES + 10; i++) {
    refusals.refused(`198.51.100.${i}`, "server_full");
  }
  refusals.handshakeFailed("192.0.2.1", new Error("bad\u202erecord"));
  equal(metrics.refused.per_address.value, 2);
  equal(metrics.refused.server_full.value, MAX_SUMMARISED_ADDRESSES + 10);
  equal(metrics.handshakesFailed.value, 1);
  clock.advance(10_000);
  const lines = logs.records.map((r) => r.message.map(String).join(""));
  equal(lines.length, 1 + MAX_SUMMARISED_ADDRESSES + 1 + 1 + 1, lines.join("\n"));
  deepEqual(lines.filter((l) => l.includes("2001:db8")), [
    "Refused a connection from 2001:db8:1:2::1 (too many connections from the address)",
    "Refused 1 more connection from 2001:db8:1:2::/64 in the last 10 s (too many connections from the address)",
  ]);
  deepEqual(lines.filter((l) => l.includes("other addresses")), [
    "Refused 10 more connections from other addresses in the last 10 s (server full)",
  ]);
  deepEqual(lines.filter((l) => l.startsWith("TLS")), [
    "TLS handshake failed from 192.0.2.1: bad\\u{202e}record",
  ]);
});
