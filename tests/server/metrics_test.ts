import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  createServerMetrics,
  Gauge,
  JOKE_OUTCOMES,
  monitorEventLoopLag,
  Registry,
  type Timers,
} from "../../lib/server/metrics.ts";

/** One line of the text format 0.0.4: a comment or a sample. */
const HELP = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/;
const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/;

/** Check every line against the grammar; returns samples by `name{labels}`. */
function parseExposition(text: string): Map<string, number> {
  ok(text.endsWith("\n"), "the text ends with a newline");
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const help = HELP.exec(line);
    const type = TYPE.exec(line);
    const sample = SAMPLE.exec(line);
    if (type) typed.add(type[1]!);
    if (help || type) continue;
    ok(sample, `not a valid line: ${JSON.stringify(line)}`);
    ok(typed.has(sample[1]!), `${sample[1]} has a TYPE line before its samples`);
    const value = sample[3] === "+Inf" ? Infinity : Number(sample[3]);
    ok(!Number.isNaN(value) || sample[3] === "NaN", `value of ${line}`);
    samples.set(sample[1]! + (sample[2] ?? ""), value);
  }
  return samples;
}

Deno.test("Registry.render() writes HELP and TYPE once per name, then one line per series", () => {
  const registry = new Registry();
  const ok1 = registry.counter({ name: "logins_total", help: "Logins", labels: { result: "ok" } });
  const bad = registry.counter({ name: "logins_total", help: "Logins", labels: { result: "bad" } });
  const open = registry.gauge({ name: "open", help: "Open now" });
  ok1.inc();
  ok1.inc(2);
  bad.inc();
  open.inc();
  open.inc();
  open.dec();
  equal(
    registry.render(),
    [
      "# HELP logins_total Logins",
      "# TYPE logins_total counter",
      'logins_total{result="ok"} 3',
      'logins_total{result="bad"} 1',
      "# HELP open Open now",
      "# TYPE open gauge",
      "open 1",
      "",
    ].join("\n"),
  );
});

Deno.test("Registry.render() escapes label values and help text", () => {
  const registry = new Registry();
  registry.counter({ name: "odd_total", help: "Back\\slash\nnewline", labels: { v: 'a"b\\c\nd' } })
    .inc();
  const text = registry.render();
  equal(
    text,
    '# HELP odd_total Back\\\\slash\\nnewline\n# TYPE odd_total counter\nodd_total{v="a\\"b\\\\c\\nd"} 1\n',
  );
  deepEqual([...parseExposition(text).values()], [1]);
});

Deno.test("Registry.render() writes fractional, infinite and NaN gauge values", () => {
  const registry = new Registry();
  registry.gauge({ name: "a", help: "a" }).set(0.25);
  registry.gauge({ name: "b", help: "b" }).set(Infinity);
  registry.gauge({ name: "c", help: "c" }).set(NaN);
  const text = registry.render();
  ok(text.includes("\na 0.25\n") && text.includes("\nb +Inf\n") && text.includes("\nc NaN\n"));
});

Deno.test("Registry refuses bad names, label names, type clashes and duplicate series", () => {
  const registry = new Registry();
  registry.counter({ name: "x_total", help: "x" });
  throws(() => registry.counter({ name: "x-total", help: "x" }), TypeError);
  throws(() => registry.counter({ name: "y", help: "y", labels: { "bad-name": "v" } }), TypeError);
  throws(() => registry.counter({ name: "y", help: "y", labels: { __reserved: "v" } }), TypeError);
  throws(() => registry.gauge({ name: "x_total", help: "x" }), TypeError);
  throws(() => registry.counter({ name: "x_total", help: "x" }), TypeError);
});

Deno.test("Counter.inc() refuses to go down", () => {
  const registry = new Registry();
  const counter = registry.counter({ name: "c_total", help: "c" });
  throws(() => counter.inc(-1), RangeError);
  throws(() => counter.inc(NaN), RangeError);
  equal(counter.value, 0);
});

Deno.test("createServerMetrics() exposes every series the issue asks for, starting at 0", () => {
  const metrics = createServerMetrics();
  const samples = parseExposition(metrics.registry.render());
  const expected = [
    "banter_connections_open",
    "banter_tls_handshakes_failed_total",
    'banter_logins_total{result="ok"}',
    'banter_logins_total{result="failed"}',
    'banter_lockouts_total{scope="account"}',
    'banter_lockouts_total{scope="ip"}',
    "banter_messages_received_total",
    "banter_messages_delivered_total",
    "banter_backpressure_drops_total",
    ...JOKE_OUTCOMES.map((o) => `banter_joke_fetches_total{outcome="${o}"}`),
    "banter_event_loop_lag_seconds",
    'banter_lockout_alerts_total{result="sent"}',
    'banter_lockout_alerts_total{result="failed"}',
    'banter_lockout_alerts_total{result="dropped"}',
  ];
  deepEqual([...samples.keys()].sort(), [...expected].sort());
  ok([...samples.values()].every((v) => v === 0));
  metrics.messagesIn.inc();
  metrics.jokes.timeout.inc();
  const after = parseExposition(metrics.registry.render());
  equal(after.get("banter_messages_received_total"), 1);
  equal(after.get('banter_joke_fetches_total{outcome="timeout"}'), 1);
});

/** Timers that fire only when the test says so. */
class FakeTimers implements Timers {
  pending = new Map<number, () => void>();
  #next = 1;
  setTimeout(callback: () => void, _ms: number): number {
    const id = this.#next++;
    this.pending.set(id, callback);
    return id;
  }
  clearTimeout(id: unknown): void {
    this.pending.delete(id as number);
  }
  /** Fire the one pending timer. */
  fire(): void {
    equal(this.pending.size, 1, "one probe timer is pending");
    const [id, callback] = [...this.pending][0]!;
    this.pending.delete(id);
    callback();
  }
}

Deno.test("monitorEventLoopLag() reports how late each probe fired, in seconds", () => {
  const gauge = new Gauge();
  const timers = new FakeTimers();
  let now = 1000;
  const probe = monitorEventLoopLag(gauge, { intervalMs: 500, now: () => now, timers });
  now += 500; // on time
  timers.fire();
  equal(gauge.value, 0);
  now += 750; // 250 ms late
  timers.fire();
  equal(gauge.value, 0.25);
  now += 400; // early (coarse timers): never negative
  timers.fire();
  equal(gauge.value, 0);
  probe[Symbol.dispose]();
  equal(timers.pending.size, 0, "stopping clears the timer");
});

Deno.test("monitorEventLoopLag() refuses a non-positive interval", () => {
  throws(() => monitorEventLoopLag(new Gauge(), { intervalMs: 0 }), RangeError);
});
