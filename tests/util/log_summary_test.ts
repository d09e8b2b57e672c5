import { deepEqual, equal, throws } from "node:assert/strict";
import { LogSummary } from "../../lib/util/log_summary.ts";
import { FakeClock } from "../_fake_clock.ts";

/** A summary on a fake clock writing its lines into an array. */
function summary(maxKeys = 10, intervalMs = 10_000) {
  const clock = new FakeClock();
  const lines: string[] = [];
  const log = new LogSummary<string>({
    first: (key, detail) => lines.push(`${key} first ${detail}`),
    summary: (key, count, detail, ms) => lines.push(`${key} +${count} in ${ms} (${detail})`),
  }, { clock, intervalMs, maxKeys, overflowKey: "others" });
  return { clock, lines, log };
}

Deno.test("LogSummary writes a key's first event at once, then one count per interval while events keep coming", () => {
  const { clock, lines, log } = summary();
  for (let i = 0; i < 500; i++) log.note("a", `e${i}`);
  deepEqual(lines, ["a first e0"]);
  clock.advance(9_999);
  equal(lines.length, 1);
  clock.advance(1);
  deepEqual(lines.slice(1), ["a +499 in 10000 (e499)"]);
  log.note("a", "late");
  clock.advance(10_000);
  deepEqual(lines.slice(2), ["a +1 in 10000 (late)"]);
});

Deno.test("LogSummary forgets a key after a quiet interval, and writes its next event at once again", () => {
  const { clock, lines, log } = summary();
  log.note("a", "one");
  clock.advance(10_000);
  equal(log.size, 0, "nothing came: forgotten, no line");
  equal(clock.pendingTimers, 0);
  log.note("a", "two");
  deepEqual(lines, ["a first one", "a first two"]);
});

Deno.test("LogSummary tracks at most maxKeys keys; the rest are counted together with no first line", () => {
  const { clock, lines, log } = summary(3);
  for (let round = 0; round < 10; round++) {
    for (let k = 0; k < 100; k++) log.note(`k${k}`, `r${round}`);
  }
  equal(log.size, 4, "three keys and the overflow");
  equal(lines.length, 3);
  clock.advance(10_000);
  deepEqual(lines.slice(3).sort(), [
    "k0 +9 in 10000 (r9)",
    "k1 +9 in 10000 (r9)",
    "k2 +9 in 10000 (r9)",
    "others +970 in 10000 (r9)",
  ]);
});

Deno.test("LogSummary on dispose writes what it counted, with the real span, stops its timers and ignores later events", () => {
  const { clock, lines, log } = summary();
  log.note("a", "x");
  clock.advance(3_000);
  log.note("a", "y");
  log.note("b", "z");
  log[Symbol.dispose]();
  deepEqual(lines, ["a first x", "b first z", "a +1 in 3000 (y)"]);
  equal(clock.pendingTimers, 0);
  log.note("a", "after");
  log[Symbol.dispose]();
  equal(lines.length, 3);
});

Deno.test("LogSummary refuses a non-positive interval or key bound", () => {
  throws(() => summary(0), RangeError);
  throws(() => summary(1, 0), RangeError);
});
