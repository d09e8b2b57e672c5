import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import { FairQueue, QueueFullError } from "../../lib/auth/_fair_queue.ts";

/** Runs that finish when the test says, recording the order they started. */
function gated() {
  const started: string[] = [];
  const gates: (() => void)[] = [];
  return {
    started,
    run: (label: string) => () =>
      new Promise<string>((resolve) => {
        started.push(label);
        gates.push(() => resolve(label));
      }),
    /** Let the oldest running run finish, then let the queue move on. */
    async finishOne() {
      gates.shift()?.();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    },
  };
}

Deno.test("FairQueue serves waiting keys round robin, one run per key at a time", async () => {
  const queue = new FairQueue({ slots: 1, maxQueued: 100, maxQueuedPerKey: 100 });
  const g = gated();
  const runs: Promise<string>[] = [];
  for (let i = 0; i < 3; i++) runs.push(queue.run("a", g.run(`a${i}`)));
  for (let i = 0; i < 3; i++) runs.push(queue.run("b", g.run(`b${i}`)));
  runs.push(queue.run("c", g.run("c0")));
  equal(queue.running, 1);
  equal(queue.queued, 6);
  while (g.started.length < 7) await g.finishOne();
  await g.finishOne();
  deepEqual(g.started, ["a0", "b0", "c0", "a1", "b1", "a2", "b2"]);
  deepEqual(await Promise.all(runs), ["a0", "a1", "a2", "b0", "b1", "b2", "c0"]);
  equal(queue.running, 0);
  equal(queue.queued, 0);
});

Deno.test("FairQueue never runs two of one key at once, even with free slots", async () => {
  const queue = new FairQueue({ slots: 4, maxQueued: 100, maxQueuedPerKey: 100 });
  const g = gated();
  const runs = [
    queue.run("a", g.run("a0")),
    queue.run("a", g.run("a1")),
    queue.run("b", g.run("b0")),
  ];
  deepEqual(g.started, ["a0", "b0"]);
  await g.finishOne();
  deepEqual(g.started, ["a0", "b0", "a1"]);
  await g.finishOne();
  await g.finishOne();
  await Promise.all(runs);
});

Deno.test("FairQueue refuses at once past its total and per-key bounds", async () => {
  const queue = new FairQueue({ slots: 1, maxQueued: 3, maxQueuedPerKey: 2 });
  const g = gated();
  const runs = [
    queue.run("a", g.run("a0")),
    queue.run("a", g.run("a1")),
    queue.run("a", g.run("a2")),
  ];
  await rejects(queue.run("a", g.run("a3")), QueueFullError);
  runs.push(queue.run("b", g.run("b0")));
  await rejects(queue.run("c", g.run("c0")), (error: Error) => {
    equal(error instanceof QueueFullError, true);
    equal(error.message, "Cannot queue: 3 runs are waiting");
    return true;
  });
  while (g.started.length < 4) await g.finishOne();
  await g.finishOne();
  deepEqual(g.started, ["a0", "b0", "a1", "a2"]);
  await Promise.all(runs);
  // A run that throws frees its slot too.
  await rejects(queue.run("a", () => Promise.reject(new Error("boom"))), /boom/);
  equal(queue.running, 0);
});

Deno.test("FairQueue checks its limits", () => {
  throws(() => new FairQueue({ slots: 0, maxQueued: 1, maxQueuedPerKey: 1 }), RangeError);
  throws(() => new FairQueue({ slots: 1, maxQueued: -1, maxQueuedPerKey: 1 }), RangeError);
  throws(() => new FairQueue({ slots: 1, maxQueued: 1, maxQueuedPerKey: 0.5 }), RangeError);
});
