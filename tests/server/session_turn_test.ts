import { deepEqual, equal } from "node:assert/strict";
import type { Connection } from "../../lib/net/connection.ts";
import { Session, type SessionHub } from "../../lib/server/session.ts";
import { TurnBudget } from "../../lib/server/turn_budget.ts";
import type { Clock } from "../../lib/util/clock.ts";
import { encodeLine } from "../../lib/wire/framing.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { RIGHT_PASSWORD, stubAuth } from "../fuzz/_memory_session.ts";

const BURST = 200;

/**
 * A connection whose peer has sent hello, login and `BURST` lines already:
 * every read settles at once, without a trip through the event loop (as
 * Deno's reads of buffered bytes do); then reads wait until cancelled.
 */
function burstConnection(): Connection {
  const lines = [
    { type: "hello", version: 1 },
    { type: "login", username: "alice", password: RIGHT_PASSWORD },
    ...Array.from({ length: BURST }, (_, i) => ({ type: "say", text: `line ${i}` })),
  ].map((frame) => encodeLine(JSON.stringify(frame)));
  let end: (() => void) | undefined;
  const ended = new Promise<undefined>((resolve) => end = () => resolve(undefined));
  return {
    peer: { address: "192.0.2.1", port: 40000 },
    source: {
      read: () => {
        const line = lines.shift();
        return line === undefined ? ended : Promise.resolve(line);
      },
      cancel: () => Promise.resolve(end?.()),
    },
    sink: { write: () => undefined, close: () => Promise.resolve() },
    close: () => end?.(),
  };
}

/** A clock whose time the hub moves (each line costs 1 ms) and whose timers the test fires. */
function workClock() {
  const timers = new Map<number, () => void>();
  let id = 0;
  let time = 0;
  const clock: Clock = {
    now: () => time,
    setTimeout: (run) => (timers.set(++id, run), id),
    clearTimeout: (timer) => void (timer !== undefined && timers.delete(timer)),
    setInterval: () => 0,
    clearInterval: () => {},
  };
  return {
    clock,
    work: (ms: number) => time += ms,
    /** The event loop's next turn: the timers set so far fire. */
    nextTurn() {
      const due = [...timers.values()];
      timers.clear();
      for (const run of due) run();
    },
  };
}

Deno.test("a session handling a burst that is all there already gives the event loop back each turn budget", async () => {
  const hand = workClock();
  const handled: string[] = [];
  let allHandled: () => void = () => {};
  const everything = new Promise<"all handled">((resolve) =>
    allHandled = () => resolve("all handled")
  );
  const hub: SessionHub = {
    isBanned: () => false,
    enter: () => ({
      input(text) {
        hand.work(1);
        handled.push(text);
        if (handled.length === BURST) allHandled();
      },
      request: () => ({ ok: true }),
      leave() {},
    }),
  };
  // Tells the test when the session is made to wait for the next turn.
  let waiting: () => void = () => {};
  class WatchedBudget extends TurnBudget {
    override spend() {
      const next = super.spend();
      if (next !== undefined) waiting();
      return next;
    }
  }
  const budget = new WatchedBudget({ turnMs: 10, clock: hand.clock });
  const untilWaiting = () =>
    new Promise<"waiting">((resolve) => waiting = () => resolve("waiting"));
  const clock = new FakeClock(0);
  const conn = burstConnection();
  const session = new Session(conn, {
    hub,
    auth: stubAuth,
    clock,
    serverName: "banter/test",
    requirePassword: false,
    limits: { maxFrameBytes: 1024, outboxBytes: 1024 * 1024, loginTimeoutMs: 60_000 },
    turns: budget,
  });
  const run = session.run();
  // Before the budget, the whole burst went through in one turn.
  equal(await within(Promise.race([untilWaiting(), everything]), 5000, "a wait"), "waiting");
  equal(handled.length, 10, "10 lines of 1 ms each fill the 10 ms turn");
  // Each next turn handles the next 10 ms worth, in order.
  for (let turn = 2; handled.length < BURST; turn++) {
    const next = untilWaiting();
    hand.nextTurn();
    await within(Promise.race([next, everything]), 5000, `turn ${turn}`);
    equal(handled.length, Math.min(BURST, 10 * turn));
  }
  deepEqual(handled, Array.from({ length: BURST }, (_, i) => `line ${i}`));
  session.terminate("shutdown", "Test over");
  hand.nextTurn();
  await within(run, 5000, "the session to end");
});
