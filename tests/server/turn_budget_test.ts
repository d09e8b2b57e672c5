import { equal, ok, throws } from "node:assert/strict";
import { TurnBudget } from "../../lib/server/turn_budget.ts";
import type { Clock } from "../../lib/util/clock.ts";

/** A clock whose time the test sets and whose timers fire only when told. */
function handClock() {
  const timers = new Map<number, () => void>();
  let next = 1;
  const clock: Clock & { time: number } = {
    time: 0,
    now: () => clock.time,
    setTimeout(callback) {
      timers.set(next, callback);
      return next++;
    },
    clearTimeout: (id) => void (id !== undefined && timers.delete(id)),
    setInterval: () => 0,
    clearInterval: () => {},
  };
  return {
    clock,
    get pending() {
      return timers.size;
    },
    /** Fire every pending timer: the event loop's next turn. */
    fire() {
      const due = [...timers.values()];
      timers.clear();
      for (const run of due) run();
    },
  };
}

Deno.test("TurnBudget lets frames through until the turn has run its budget, then makes them wait for the next turn", async () => {
  const hand = handClock();
  const budget = new TurnBudget({ turnMs: 10, clock: hand.clock });
  equal(budget.spend(), undefined);
  equal(hand.pending, 1, "one timer marks the turn's end");
  hand.clock.time = 9;
  equal(budget.spend(), undefined);
  hand.clock.time = 10;
  const first = budget.spend();
  const second = budget.spend();
  ok(first instanceof Promise);
  equal(first, second, "everyone waits on the same turn");
  equal(hand.pending, 1, "still one timer");
  let resumed = false;
  void first.then(() => resumed = true);
  await Promise.resolve();
  equal(resumed, false);
  hand.fire();
  await first;
  equal(resumed, true);
  // A new turn: its own start, its own budget.
  equal(budget.spend(), undefined);
  hand.clock.time = 19;
  equal(budget.spend(), undefined);
});

Deno.test("TurnBudget arms no timer for a server that handles nothing, and none after dispose", async () => {
  const hand = handClock();
  const budget = new TurnBudget({ turnMs: 10, clock: hand.clock });
  equal(hand.pending, 0);
  budget.spend();
  hand.clock.time = 50;
  const waiting = budget.spend();
  ok(waiting instanceof Promise);
  budget[Symbol.dispose]();
  equal(hand.pending, 0, "dispose clears the timer");
  await waiting; // and lets the waiting go on
  equal(budget.spend(), undefined);
  equal(hand.pending, 0);
});

Deno.test("TurnBudget refuses a budget that is not a positive time", () => {
  for (const turnMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    throws(() => new TurnBudget({ turnMs }), RangeError);
  }
});
