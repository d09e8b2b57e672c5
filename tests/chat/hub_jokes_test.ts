import assert from "node:assert/strict";
import type { HubOptions } from "../../lib/chat/hub.ts";
import type { Joke } from "../../lib/chat/jokes.ts";
import { FakeMember, makeHub } from "./_fake_member.ts";

/** A joke teller whose answers the test hands out one by one. */
function controlledTeller() {
  const calls: {
    signal: AbortSignal | undefined;
    answer: (j: Joke) => void;
    fail: (e: Error) => void;
  }[] = [];
  const teller = (signal?: AbortSignal) => {
    const { promise, resolve, reject } = Promise.withResolvers<Joke>();
    calls.push({ signal, answer: resolve, fail: reject });
    return promise;
  };
  return { teller, calls };
}

/** A hub with a joke teller the test controls, which ann and then bob have entered. */
function annAndBob(options: Partial<HubOptions> = {}) {
  const { teller, calls } = controlledTeller();
  const { hub, clock } = makeHub({ joke: teller, ...options });
  const ann = new FakeMember("ann");
  const bob = new FakeMember("bob");
  const a = hub.enter(ann);
  const b = hub.enter(bob);
  return { hub, clock, calls, ann, bob, a, b };
}

const KNOCK: Joke = {
  lines: ["Why did the chicken cross the road?", "To get to the other side."],
  source: "api",
};

for (const line of ["get_joke", "/joke"]) {
  Deno.test(`${line} posts the joke line by line as JokeBot`, async () => {
    const { hub, calls, ann, bob, a } = annAndBob();
    a.input(line);
    assert.equal(calls.length, 1);
    calls[0]!.answer(KNOCK);
    await hub.settled();
    assert.deepEqual(bob.texts(), KNOCK.lines);
    for (const m of bob.messages()) {
      assert.equal(m.from, "JokeBot");
      assert.equal(m.bot, true);
      assert.equal(m.room, "lobby");
    }
    assert.equal(ann.messages()[0], bob.messages()[0]);
  });
}

Deno.test("the chat keeps flowing while a joke is on its way", async () => {
  const { teller, calls } = controlledTeller();
  const { hub } = makeHub({ joke: teller });
  const ann = new FakeMember("ann");
  const a = hub.enter(ann);
  a.input("get_joke");
  a.input("meanwhile");
  assert.deepEqual(ann.texts(), ["meanwhile"]);
  calls[0]!.answer(KNOCK);
  await hub.settled();
  assert.deepEqual(ann.texts(), ["meanwhile", ...KNOCK.lines]);
});

Deno.test("jokes have a per-user cooldown", async () => {
  const { hub, clock, calls, ann, a, b } = annAndBob({ jokeCooldownMs: 10_000 });
  a.input("get_joke");
  clock.advance(3_000);
  a.input("get_joke");
  assert.equal(ann.lastNotice(), "Wait 7 s before asking for another joke");
  b.input("/joke");
  assert.equal(calls.length, 2, "bob has his own cooldown");
  clock.advance(7_000);
  a.input("get_joke");
  assert.equal(calls.length, 3);
  for (const call of calls) call.answer(KNOCK);
  await hub.settled();
});

Deno.test("an offline joke is labelled and the requester learns why", async () => {
  const { hub, calls, ann, bob, a } = annAndBob();
  a.input("get_joke");
  calls[0]!.answer({ ...KNOCK, source: "offline", problem: "HTTP 503" });
  await hub.settled();
  assert.deepEqual(bob.texts(), [
    "(offline joke) Why did the chicken cross the road?",
    "To get to the other side.",
  ]);
  assert.match(ann.lastNotice(), /HTTP 503/);
  assert.deepEqual(bob.notices(), []);
});

Deno.test("a joke goes to the room it was asked in", async () => {
  const { hub, calls, ann, bob, a } = annAndBob();
  a.input("get_joke");
  a.input("/join dev");
  calls[0]!.answer(KNOCK);
  await hub.settled();
  assert.deepEqual(bob.texts(), KNOCK.lines);
  assert.deepEqual(ann.texts(), []);
});

Deno.test("without a joke source, jokes are not configured", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  hub.enter(ann).input("get_joke");
  assert.equal(ann.lastNotice(), "Jokes are not configured");
});

Deno.test("a failing joke source becomes an error notice", async () => {
  const { teller, calls } = controlledTeller();
  const { hub } = makeHub({ joke: teller });
  const ann = new FakeMember("ann");
  hub.enter(ann).input("/joke");
  calls[0]!.fail(new Error("boom"));
  await hub.settled();
  assert.equal(ann.lastNotice(), "Cannot tell a joke: boom");
  assert.deepEqual(ann.texts(), []);
});

Deno.test("shutdown aborts jokes in flight and drops their answers", async () => {
  const { teller, calls } = controlledTeller();
  const { hub } = makeHub({ joke: teller });
  const ann = new FakeMember("ann");
  hub.enter(ann).input("get_joke");
  const { signal } = calls[0]!;
  assert.equal(signal?.aborted, false);
  hub.shutdown("bye");
  assert.equal(signal?.aborted, true);
  calls[0]!.answer(KNOCK);
  await hub.settled();
  assert.deepEqual(ann.texts(), []);
});
