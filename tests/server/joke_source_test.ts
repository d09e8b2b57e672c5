import { deepEqual, equal, rejects } from "node:assert/strict";
import { httpProblem, type Joke, JOKE_PROBLEMS } from "../../lib/server/joke_api.ts";
import { countedJokeSource, jokeOutcome } from "../../lib/server/joke_source.ts";
import { createServerMetrics, JOKE_OUTCOMES } from "../../lib/server/metrics.ts";
import { systemRandom } from "../../lib/util/clock.ts";

function offline(problem: string): Joke {
  return { lines: ["A built-in joke"], source: "offline", problem };
}

Deno.test("jokeOutcome() names every problem getJoke() reports, and falls back to error", () => {
  equal(jokeOutcome({ lines: ["ha"], source: "api" }), "api");
  equal(jokeOutcome(offline(JOKE_PROBLEMS.timeout)), "timeout");
  equal(jokeOutcome(offline(JOKE_PROBLEMS.notAJoke)), "not_a_joke");
  equal(jokeOutcome(offline(JOKE_PROBLEMS.tooMuch)), "too_much");
  equal(jokeOutcome(offline(JOKE_PROBLEMS.unreachable)), "unreachable");
  equal(jokeOutcome(offline(JOKE_PROBLEMS.unresolvable)), "unresolvable");
  equal(jokeOutcome(offline(httpProblem(503))), "http_error");
  equal(jokeOutcome(offline("something new")), "error");
});

function counts(metrics: ReturnType<typeof createServerMetrics>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const outcome of JOKE_OUTCOMES) {
    if (metrics.jokes[outcome].value > 0) out[outcome] = metrics.jokes[outcome].value;
  }
  return out;
}

Deno.test("countedJokeSource() counts a joke from the service and an HTTP error", async () => {
  const metrics = createServerMetrics();
  let status = 200;
  const source = countedJokeSource({
    url: "http://jokes.test/random",
    timeoutMs: 1000,
    random: systemRandom,
    counters: metrics.jokes,
    fetch: () =>
      Promise.resolve(
        new Response(JSON.stringify({ setup: "Why?", punchline: "Because." }), { status }),
      ),
  });
  const joke = await source();
  equal(joke.source, "api");
  status = 500;
  equal((await source()).source, "offline");
  deepEqual(counts(metrics), { api: 1, http_error: 1 });
});

Deno.test("countedJokeSource() counts an aborted request as aborted and rejects", async () => {
  const metrics = createServerMetrics();
  const controller = new AbortController();
  const source = countedJokeSource({
    url: "http://jokes.test/random",
    timeoutMs: 1000,
    random: systemRandom,
    counters: metrics.jokes,
    fetch: (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        controller.abort(new Error("Left the room"));
      }),
  });
  await rejects(source(controller.signal), { message: "Left the room" });
  deepEqual(counts(metrics), { aborted: 1 });
});
