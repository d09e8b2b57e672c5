import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { Registry } from "../../lib/server/prometheus.ts";
import { parseExposition } from "./_exposition.ts";

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
