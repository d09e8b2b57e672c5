/**
 * The hub's joke source: {@linkcode getJoke} with the configured service,
 * each request counted in `banter_joke_fetches_total{outcome}`.
 *
 * @module
 */
import type { Random, Timers } from "../util/clock.ts";
import { getJoke, type Joke, JOKE_PROBLEMS } from "./joke_api.ts";
import type { JokeOutcome } from "./metrics.ts";
import type { Counter } from "./prometheus.ts";

const JOKE_OUTCOME_OF_PROBLEM = new Map<string, JokeOutcome>([
  [JOKE_PROBLEMS.timeout, "timeout"],
  [JOKE_PROBLEMS.notAJoke, "not_a_joke"],
  [JOKE_PROBLEMS.tooMuch, "too_much"],
  [JOKE_PROBLEMS.unreachable, "unreachable"],
  [JOKE_PROBLEMS.unresolvable, "unresolvable"],
]);

/**
 * The metric outcome of a joke: `api`, or why a built-in one was told.
 *
 * @param joke What {@linkcode getJoke} returned.
 * @returns The outcome label.
 *
 * @example Usage
 * ```ts
 * import { jokeOutcome } from "./joke_source.ts";
 * import { httpProblem } from "./joke_api.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: [string] = ["Knock knock"];
 * assert.equal(jokeOutcome({ lines, source: "api" }), "api");
 * assert.equal(jokeOutcome({ lines, source: "offline", problem: httpProblem(502) }), "http_error");
 * ```
 */
export function jokeOutcome(joke: Joke): JokeOutcome {
  if (joke.source === "api") return "api";
  return JOKE_OUTCOME_OF_PROBLEM.get(joke.problem) ??
    (joke.problem.includes("answered HTTP") ? "http_error" : "error");
}

/** Options for {@linkcode countedJokeSource}. */
export interface JokeSourceOptions {
  /** The joke service endpoint. */
  url: string;
  /** Time allowed per request. */
  timeoutMs: number;
  /** How to reach the service. */
  fetch: typeof fetch;
  /** Picks the built-in joke on failure. */
  random: Random;
  /** Runs the per-request deadline. @default {systemClock} */
  clock?: Timers;
  /** One counter per outcome. */
  counters: Readonly<Record<JokeOutcome, Counter>>;
}

/**
 * A joke source for the hub that counts every request by outcome; an
 * aborted request counts as `aborted`, any other rejection as `error`.
 *
 * @param options Service, fetch, randomness, timers and counters.
 * @returns Gets one joke; rejects only when aborted or on a bug.
 */
export function countedJokeSource(
  options: JokeSourceOptions,
): (signal?: AbortSignal) => Promise<Joke> {
  const { url, timeoutMs, fetch, random, clock, counters } = options;
  return async (signal?: AbortSignal) => {
    try {
      const joke = await getJoke({
        url,
        timeoutMs,
        fetch,
        random,
        ...(clock ? { clock } : {}),
        ...(signal ? { signal } : {}),
      });
      counters[jokeOutcome(joke)].inc();
      return joke;
    } catch (error) {
      counters[signal?.aborted ? "aborted" : "error"].inc();
      throw error;
    }
  };
}
