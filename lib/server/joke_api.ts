/**
 * Fetches a joke from a public joke service, and falls back to a built-in
 * joke when the service cannot deliver one in time.
 *
 * Understands the official-joke-api shape (`{type, setup, punchline, id}`,
 * alone or in an array) and JokeAPI v2 (`{type: "single", joke}`,
 * `{type: "twopart", setup, delivery}`, `{error: true, ...}`).
 *
 * @module
 */

import { concatBytes } from "../util/bytes.ts";
import { type Random, systemClock, systemRandom, type Timers } from "../util/clock.ts";
import { isRecord } from "../util/is_record.ts";

/** The joke service asked when no `url` is given. */
export const DEFAULT_JOKE_URL = "https://official-joke-api.appspot.com/jokes/random";

/** How long a whole request (connect, headers, body) may take, in ms. */
export const DEFAULT_JOKE_TIMEOUT_MS = 3000;

/** The largest response body read, in bytes. */
export const DEFAULT_JOKE_MAX_BYTES = 16 * 1024;

/** The longest accepted joke line, in UTF-16 code units, after cleaning. */
export const MAX_JOKE_LINE_LENGTH = 1000;

/** A one-part joke, or a setup followed by its punchline. */
export type JokeLines = [string] | [string, string];

/** A joke from the service, or a built-in one with the reason for it. */
export type Joke =
  | { lines: JokeLines; source: "api" }
  | { lines: JokeLines; source: "offline"; problem: string };

/** Options for {@linkcode getJoke}. */
export interface GetJokeOptions {
  /**
   * The joke service endpoint.
   *
   * @default {DEFAULT_JOKE_URL}
   */
  url?: string;
  /**
   * The fetch implementation.
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof globalThis.fetch;
  /**
   * The time allowed for connecting, the headers and the whole body, in ms
   * on `clock`.
   *
   * @default {3000}
   */
  timeoutMs?: number;
  /**
   * The largest response body read, in bytes; a longer one is abandoned.
   *
   * @default {16384}
   */
  maxBytes?: number;
  /** Aborts the request; `getJoke` then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Picks the built-in joke on failure.
   *
   * @default {systemRandom}
   */
  random?: Random;
  /**
   * The timers that run the `timeoutMs` deadline.
   *
   * @default {systemClock}
   */
  clock?: Timers;
}

/** Why a built-in joke was told instead; short, friendly and secret-free. */
export const JOKE_PROBLEMS = {
  timeout: "the joke service timed out",
  notAJoke: "the joke service sent something that is not a joke",
  tooMuch: "the joke service answered too much",
  unreachable: "cannot reach the joke service",
  unresolvable: "cannot resolve the joke service's host",
} as const;

/**
 * The problem text for an HTTP error status.
 *
 * @param status The HTTP status code.
 * @returns The problem text.
 *
 * @example Usage
 * ```ts
 * import { httpProblem } from "./joke_api.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(httpProblem(500), "the joke service answered HTTP 500");
 * ```
 */
export function httpProblem(status: number): string {
  return `the joke service answered HTTP ${status}`;
}

/**
 * The problem text for a redirect, which is never followed: the configured
 * URL is the only address the server asks, so a joke service (or whoever
 * answers in its name) cannot point the server at another host or port.
 *
 * @param status The HTTP status code of the redirect (3xx).
 * @returns The problem text; it reads as an HTTP answer, so it is counted as
 * `http_error`.
 *
 * @example Usage
 * ```ts
 * import { redirectProblem } from "./joke_api.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   redirectProblem(302),
 *   "the joke service answered HTTP 302, a redirect, which is not followed",
 * );
 * ```
 */
export function redirectProblem(status: number): string {
  return `${httpProblem(status)}, a redirect, which is not followed`;
}

/** The jokes told when the service cannot deliver one. */
export const OFFLINE_JOKES = [
  [
    "Why did the array feel left out at the party?",
    "Everyone else started counting at one.",
  ],
  ["I told the compiler a joke.", "It said the punchline was unreachable."],
  ["Why was the function so calm?", "It had no side effects."],
  [
    "Why did the developer keep a bucket under the desk?",
    "For the memory leaks.",
  ],
  [
    "I asked the linter for life advice.",
    "It told me to stop declaring things I never use.",
  ],
  [
    "Why did the timeout break up with the request?",
    "It was tired of waiting around.",
  ],
  ["My code worked on the first try, so now I am reviewing it for what it is hiding."],
  ["My rubber duck has fixed more bugs than I have, and it has never typed a line."],
  ["This joke was cached for offline use, which is more planning than most of my projects get."],
  [
    "How does a chat server stay positive?",
    "It only keeps the connections that bring it joy.",
  ],
] as const satisfies readonly (readonly [string] | readonly [string, string])[];

// Line breaks and other control characters become spaces; invisible
// formatting characters (including bidi overrides) are dropped.
const BREAKS = /[\p{Cc}\p{Zl}\p{Zp}]/gu;
const INVISIBLE = /\p{Cf}/gu;
const SPACES = /\s+/gu;
const DNS_FAILURE = /dns error|failed to lookup address/i;

/**
 * Reads a joke out of an untrusted, already parsed JSON value.
 *
 * Accepts the official-joke-api and JokeAPI v2 shapes, and takes the first
 * valid joke of an array. Each line has control characters and line breaks
 * collapsed to single spaces and must then be non-empty and at most
 * {@linkcode MAX_JOKE_LINE_LENGTH} long.
 *
 * @param value The parsed JSON.
 * @returns The joke's lines, or `undefined` when `value` holds no joke.
 *
 * @example Usage
 * ```ts
 * import { parseJoke } from "./joke_api.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   parseJoke({ type: "general", setup: "Knock knock.", punchline: "Who?" }),
 *   ["Knock knock.", "Who?"],
 * );
 * assert.deepEqual(parseJoke({ type: "single", joke: "A\nB" }), ["A B"]);
 * assert.equal(parseJoke({ error: true, message: "No joke" }), undefined);
 * ```
 */
export function parseJoke(value: unknown): JokeLines | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (Array.isArray(item)) continue;
      const lines = parseJoke(item);
      if (lines) return lines;
    }
    return undefined;
  }
  if (!isRecord(value) || value.error === true) return undefined;
  if (value.type === "single") return oneLine(value.joke);
  if (value.type === "twopart") return twoLines(value.setup, value.delivery);
  return twoLines(value.setup, value.punchline);
}

/**
 * Gets a joke from the joke service, or a built-in one when the service
 * times out, fails, or sends something unusable.
 *
 * @param options How to reach the service and how long to wait.
 * @returns The joke; a built-in one carries the `problem` that caused it.
 * @throws {RangeError} If `timeoutMs` or `maxBytes` is not a positive number.
 * @throws {TypeError} If `url` is not a valid URL.
 * @throws {unknown} The reason of `options.signal` when it aborts.
 *
 * @example Usage
 * ```ts
 * import { getJoke } from "./joke_api.ts";
 * import assert from "node:assert/strict";
 *
 * const joke = await getJoke({
 *   fetch: () => Promise.resolve(Response.json({ type: "single", joke: "Hi" })),
 * });
 * assert.deepEqual(joke, { lines: ["Hi"], source: "api" });
 * ```
 */
export async function getJoke(options: GetJokeOptions = {}): Promise<Joke> {
  const {
    url = DEFAULT_JOKE_URL,
    fetch = globalThis.fetch,
    timeoutMs = DEFAULT_JOKE_TIMEOUT_MS,
    maxBytes = DEFAULT_JOKE_MAX_BYTES,
    signal,
    random = systemRandom,
    clock = systemClock,
  } = options;
  if (!(timeoutMs > 0)) {
    throw new RangeError(`Cannot get a joke: timeoutMs is ${timeoutMs}`);
  }
  if (!(maxBytes > 0)) {
    throw new RangeError(`Cannot get a joke: maxBytes is ${maxBytes}`);
  }
  if (!URL.canParse(url)) {
    throw new TypeError("Cannot get a joke: url is not a valid URL");
  }
  signal?.throwIfAborted();
  const deadline = new AbortController();
  const timer = clock.setTimeout(() => {
    deadline.abort(new DOMException("The joke request timed out", "TimeoutError"));
  }, timeoutMs);
  const timeout = deadline.signal;
  const joined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let outcome: JokeLines | string;
  try {
    outcome = await requestJoke(url, { fetch, maxBytes, signal: joined });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    outcome = timeout.aborted ? JOKE_PROBLEMS.timeout : networkProblem(error);
  } finally {
    clock.clearTimeout(timer);
  }
  if (typeof outcome !== "string") return { lines: outcome, source: "api" };
  return {
    lines: pickOfflineJoke(random),
    source: "offline",
    problem: outcome,
  };
}

interface RequestOptions {
  fetch: typeof globalThis.fetch;
  maxBytes: number;
  signal: AbortSignal;
}

/** Returns the joke's lines, or the problem text for an unusable answer. */
async function requestJoke(
  url: string,
  { fetch, maxBytes, signal }: RequestOptions,
): Promise<JokeLines | string> {
  const response = await fetch(url, {
    headers: { accept: "application/json" },
    // Never follow a redirect: it could send the request to any host or
    // local port (an internal service); the answer is then the problem.
    redirect: "manual",
    signal,
  });
  if (response.type === "opaqueredirect" || isRedirect(response.status)) {
    await response.body?.cancel();
    return redirectProblem(response.status);
  }
  if (!response.ok) {
    await response.body?.cancel();
    return httpProblem(response.status);
  }
  if (Number(response.headers.get("content-length")) > maxBytes) {
    await response.body?.cancel();
    return JOKE_PROBLEMS.tooMuch;
  }
  const body = await readCapped(response.body, maxBytes);
  // The deadline covers the body even if `fetch` does not abort it.
  signal.throwIfAborted();
  if (body === undefined) return JOKE_PROBLEMS.tooMuch;
  return parseJoke(decodeJson(body)) ?? JOKE_PROBLEMS.notAJoke;
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** Reads a whole body, or cancels it and returns `undefined` past the cap. */
async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early cancels the body.
  for await (const chunk of body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return concatBytes(chunks, size);
}

/** Parses UTF-8 JSON, or returns `undefined` when it is not. */
function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    // TypeError: invalid UTF-8; SyntaxError: invalid JSON.
    if (error instanceof TypeError || error instanceof SyntaxError) {
      return undefined;
    }
    throw error;
  }
}

/** Tells a DNS failure from other network failures by the error's text. */
function networkProblem(error: unknown): string {
  // Deno throws TypeError("fetch failed") with a cause such as "... dns
  // error: failed to lookup address ..." or "... tcp connect error: ...".
  for (let e = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    if (DNS_FAILURE.test(e.message)) return JOKE_PROBLEMS.unresolvable;
    e = e.cause;
  }
  return JOKE_PROBLEMS.unreachable;
}

function pickOfflineJoke(random: Random): JokeLines {
  const index = Math.floor(random.float() * OFFLINE_JOKES.length);
  const clamped = Math.min(Math.max(index, 0), OFFLINE_JOKES.length - 1);
  // Never undefined: the index is clamped into the non-empty list.
  const [first, second] = OFFLINE_JOKES[clamped] ?? OFFLINE_JOKES[0];
  // A copy, so that a caller cannot change the built-in list.
  return second === undefined ? [first] : [first, second];
}

function oneLine(text: unknown): JokeLines | undefined {
  const line = cleanLine(text);
  return line === undefined ? undefined : [line];
}

function twoLines(first: unknown, second: unknown): JokeLines | undefined {
  const setup = cleanLine(first);
  const punchline = cleanLine(second);
  if (setup === undefined || punchline === undefined) return undefined;
  return [setup, punchline];
}

function cleanLine(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  const line = text.replace(BREAKS, " ").replace(INVISIBLE, "")
    .replace(SPACES, " ").trim();
  if (line === "" || line.length > MAX_JOKE_LINE_LENGTH) return undefined;
  return line;
}
