/**
 * The joke desk: per-user cooldown and in-flight tracking for joke requests.
 * The hub never waits on a joke: requests run in the background, are kept in
 * a set until they settle, and are aborted on shutdown.
 *
 * @module
 */
import type { TimeSource } from "../util/clock.ts";
import { foldName } from "./_names.ts";

/** The name jokes are posted under. Users cannot take it. */
export const BOT_NAME = "JokeBot";

/** A joke, as a teller returns it. */
export interface Joke {
  /** Setup first, then punchline. */
  lines: readonly string[];
  /** `offline` when it came from the built-in fallback list. */
  source: "api" | "offline";
  /** Why the API was not used, when `source` is `offline`. */
  problem?: string;
}

/** Fetches a joke; must stop early when `signal` aborts. */
export type JokeTeller = (signal?: AbortSignal) => Promise<Joke>;

/** Options for {@linkcode JokeDesk}. */
export interface JokeDeskOptions {
  /** Where the time comes from. */
  clock: TimeSource;
  /** Time between two requests by the same user. @default 10000 */
  cooldownMs?: number;
}

/** Cooldown entries kept before expired ones are swept. */
const SWEEP_AT = 256;

/**
 * Runs joke requests in the background.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { JokeDesk } from "./jokes.ts";
 *
 * const told: string[] = [];
 * const desk = new JokeDesk(
 *   () => Promise.resolve({ lines: ["a", "b"], source: "api" }),
 *   { clock: { now: () => 0 } },
 * );
 * deepEqual(desk.request("ann", (joke) => told.push(...joke.lines), () => {}), undefined);
 * await desk.settled();
 * deepEqual(told, ["a", "b"]);
 * ```
 */
export class JokeDesk {
  #teller: JokeTeller | undefined;
  #clock: TimeSource;
  #cooldownMs: number;
  #lastAsked = new Map<string, number>();
  #inFlight = new Map<Promise<void>, AbortController>();

  /**
   * @param teller Where jokes come from; `undefined` when not configured.
   * @param options TimeSource and cooldown.
   * @throws {RangeError} When `cooldownMs` is negative.
   */
  constructor(teller: JokeTeller | undefined, options: JokeDeskOptions) {
    const cooldownMs = options.cooldownMs ?? 10_000;
    if (!(cooldownMs >= 0)) {
      throw new RangeError(
        `Cannot create joke desk: cooldownMs is ${cooldownMs}`,
      );
    }
    this.#teller = teller;
    this.#clock = options.clock;
    this.#cooldownMs = cooldownMs;
  }

  /** How many requests have not settled yet. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Start a request for `user`, unless refused.
   *
   * @param user Who asks; the cooldown is per user.
   * @param onJoke Called with the joke, unless aborted first.
   * @param onError Called if the teller fails, unless aborted first.
   * @returns `undefined` when started, else why not (for the user).
   */
  request(
    user: string,
    onJoke: (joke: Joke) => void,
    onError: (error: unknown) => void,
  ): string | undefined {
    const teller = this.#teller;
    if (teller === undefined) return "Jokes are not configured";
    const now = this.#clock.now();
    const key = foldName(user);
    const last = this.#lastAsked.get(key);
    if (last !== undefined && now - last < this.#cooldownMs) {
      const seconds = Math.ceil((this.#cooldownMs - (now - last)) / 1000);
      return `Wait ${seconds} s before asking for another joke`;
    }
    if (this.#lastAsked.size >= SWEEP_AT) this.#sweep(now);
    this.#lastAsked.set(key, now);

    const controller = new AbortController();
    const { signal } = controller;
    const task = (async () => {
      let joke: Joke;
      try {
        joke = await teller(signal);
      } catch (error) {
        if (!signal.aborted) onError(error);
        return;
      }
      if (!signal.aborted) onJoke(joke);
    })().catch(onError).finally(() => this.#inFlight.delete(task));
    this.#inFlight.set(task, controller);
    return undefined;
  }

  /** Abort every request in flight; their results are dropped. */
  abortAll(): void {
    for (const controller of this.#inFlight.values()) {
      controller.abort(new Error("Cannot tell joke: shutting down"));
    }
  }

  /** Resolves when every request started so far has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#inFlight.keys());
  }

  #sweep(now: number): void {
    for (const [key, at] of this.#lastAsked) {
      if (now - at >= this.#cooldownMs) this.#lastAsked.delete(key);
    }
  }
}
