import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  createServerMetrics,
  JOKE_OUTCOMES,
  monitorEventLoopLag,
  REFUSAL_REASONS,
} from "../../lib/server/metrics.ts";
import { Gauge } from "../../lib/server/prometheus.ts";
import { FakeClock } from "../_fake_clock.ts";
import { parseExposition } from "./_exposition.ts";

Deno.test("createServerMetrics() exposes every series the issue asks for, starting at 0", () => {
  const metrics = createServerMetrics();
  const samples = parseExposition(metrics.registry.render());
  const expected = [
    "banter_connections_open",
    "banter_tls_handshakes_failed_total",
    ...REFUSAL_REASONS.map((r) => `banter_connections_refused_total{reason="${r}"}`),
    'banter_logins_total{result="ok"}',
    'banter_logins_total{result="failed"}',
    'banter_logins_total{result="busy"}',
    "banter_lockout_write_errors_total",
    "banter_logins_paused",
    'banter_lockouts_total{scope="account"}',
    'banter_lockouts_total{scope="ip"}',
    "banter_messages_received_total",
    "banter_messages_delivered_total",
    "banter_backpressure_drops_total",
    "banter_pre_login_read_pauses_total",
    ...JOKE_OUTCOMES.map((o) => `banter_joke_fetches_total{outcome="${o}"}`),
    "banter_event_loop_lag_seconds",
    'banter_lockout_alerts_total{result="sent"}',
    'banter_lockout_alerts_total{result="failed"}',
    'banter_lockout_alerts_total{result="dropped"}',
    "banter_data_free_bytes",
    "banter_history_bytes",
    "banter_certificate_days_left",
  ];
  deepEqual([...samples.keys()].sort(), [...expected].sort());
  ok([...samples.values()].every((v) => v === 0));
  metrics.messagesIn.inc();
  metrics.jokes.timeout.inc();
  const after = parseExposition(metrics.registry.render());
  equal(after.get("banter_messages_received_total"), 1);
  equal(after.get('banter_joke_fetches_total{outcome="timeout"}'), 1);
});

Deno.test("monitorEventLoopLag() reports how late each probe fired, in seconds", () => {
  const gauge = new Gauge();
  const clock = new FakeClock();
  let now = 1000;
  const probe = monitorEventLoopLag(gauge, { intervalMs: 500, now: () => now, timers: clock });
  equal(clock.pendingTimers, 1, "one probe timer is pending");
  now += 500; // on time
  clock.advance(500);
  equal(gauge.value, 0);
  now += 750; // 250 ms late
  clock.advance(500);
  equal(gauge.value, 0.25);
  now += 400; // early (coarse timers): never negative
  clock.advance(500);
  equal(gauge.value, 0);
  equal(clock.pendingTimers, 1, "still one probe timer after three ticks");
  probe[Symbol.dispose]();
  equal(clock.pendingTimers, 0, "stopping clears the timer");
});

Deno.test("monitorEventLoopLag() refuses a non-positive interval", () => {
  throws(() => monitorEventLoopLag(new Gauge(), { intervalMs: 0 }), RangeError);
});
