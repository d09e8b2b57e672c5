import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import type { Random } from "../../lib/util/clock.ts";
import {
  DEFAULT_JOKE_URL,
  getJoke,
  httpProblem,
  type Joke,
  JOKE_PROBLEMS,
  MAX_JOKE_LINE_LENGTH,
  OFFLINE_JOKES,
  parseJoke,
} from "../../lib/server/joke_api.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { closedPort, FAKE_JOKES, startFakeJokeApi } from "../_joke_api.ts";

/** A timeout real time cannot reach during a test: only a fake clock fires it. */
const LONG_TIMEOUT_MS = 3_600_000;

function fixedRandom(float: number): Random {
  return { float: () => float, bytes: (n) => new Uint8Array(n) };
}

function assertOffline(joke: Joke, problem: string): void {
  assert.equal(joke.source, "offline");
  assert.ok(joke.source === "offline" && joke.problem === problem);
  assert.ok(
    OFFLINE_JOKES.some((lines) => isDeepStrictEqual(lines, joke.lines)),
  );
}

/** A fetch that answers from memory and records what it was asked. */
function fakeFetch(
  answer: () => Response,
  calls: { url: string; init: RequestInit | undefined }[] = [],
): typeof fetch {
  return (input, init) => {
    calls.push({ url: String(input), init });
    return Promise.resolve(answer());
  };
}

// Shapes

Deno.test("getJoke() reads an official-joke-api object", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/official") });
  assert.deepEqual(joke, { lines: FAKE_JOKES.official, source: "api" });
  assert.equal(api.hits("/official"), 1);
});

Deno.test("getJoke() takes the first valid joke of an array", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/official-array") });
  assert.deepEqual(joke, { lines: FAKE_JOKES.officialArray, source: "api" });
});

Deno.test("getJoke() reads a JokeAPI v2 single joke as one line", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/v2-single") });
  assert.deepEqual(joke, { lines: FAKE_JOKES.v2Single, source: "api" });
});

Deno.test("getJoke() reads a JokeAPI v2 two-part joke", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/v2-twopart") });
  assert.deepEqual(joke, { lines: FAKE_JOKES.v2Twopart, source: "api" });
});

Deno.test("getJoke() asks the default URL for JSON", async () => {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetch = fakeFetch(
    () => Response.json({ type: "single", joke: "Hi" }),
    calls,
  );
  const joke = await getJoke({ fetch });
  assert.deepEqual(joke, { lines: ["Hi"], source: "api" });
  assert.equal(calls.length, 1);
  assert.equal(calls[0]?.url, DEFAULT_JOKE_URL);
  const headers = new Headers(calls[0]?.init?.headers);
  assert.equal(headers.get("accept"), "application/json");
});

// Failures the service answers with

Deno.test("getJoke() falls back on a JokeAPI v2 error reply", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/v2-error") });
  assertOffline(joke, JOKE_PROBLEMS.notAJoke);
});

Deno.test("getJoke() falls back on HTTP 404", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/404") });
  assertOffline(joke, "the joke service answered HTTP 404");
});

Deno.test("getJoke() falls back on HTTP 500", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/500") });
  assertOffline(joke, httpProblem(500));
});

Deno.test("getJoke() falls back on a body that is not JSON", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/not-json") });
  assertOffline(joke, JOKE_PROBLEMS.notAJoke);
});

Deno.test("getJoke() falls back on JSON of the wrong shape", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/wrong-shape") });
  assertOffline(joke, JOKE_PROBLEMS.notAJoke);
});

Deno.test("getJoke() falls back on a body that is not UTF-8", async () => {
  const bytes = new Uint8Array([0x22, 0xff, 0xfe, 0x22]);
  const joke = await getJoke({ fetch: fakeFetch(() => new Response(bytes)) });
  assertOffline(joke, JOKE_PROBLEMS.notAJoke);
});

Deno.test("getJoke() abandons a huge streamed body at maxBytes", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/huge"), maxBytes: 1024 });
  assertOffline(joke, JOKE_PROBLEMS.tooMuch);
});

Deno.test("getJoke() reads no more than maxBytes plus one chunk", async () => {
  const chunk = new Uint8Array(100).fill(0x20);
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  const joke = await getJoke({
    fetch: fakeFetch(() => new Response(body)),
    maxBytes: 1000,
  });
  assertOffline(joke, JOKE_PROBLEMS.tooMuch);
  assert.ok(pulled <= 1100, `pulled ${pulled} bytes`);
  assert.ok(cancelled);
});

Deno.test("getJoke() refuses a declared Content-Length over maxBytes", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
  });
  const response = new Response(body, {
    headers: { "content-length": "1000000" },
  });
  const joke = await getJoke({ fetch: fakeFetch(() => response) });
  assertOffline(joke, JOKE_PROBLEMS.tooMuch);
  assert.ok(cancelled);
});

// Failures of time and network

Deno.test("getJoke() times out waiting for headers", async () => {
  await using api = startFakeJokeApi();
  const clock = new FakeClock();
  const pending = getJoke({ url: api.url("/slow-headers"), timeoutMs: LONG_TIMEOUT_MS, clock });
  await api.requested("/slow-headers");
  clock.advance(LONG_TIMEOUT_MS);
  assertOffline(await pending, JOKE_PROBLEMS.timeout);
  assert.equal(api.hits("/slow-headers"), 1);
});

Deno.test("getJoke() times out on a body that never ends", async () => {
  await using api = startFakeJokeApi();
  const clock = new FakeClock();
  const pending = getJoke({ url: api.url("/never-ends"), timeoutMs: LONG_TIMEOUT_MS, clock });
  await api.requested("/never-ends");
  clock.advance(LONG_TIMEOUT_MS);
  assertOffline(await pending, JOKE_PROBLEMS.timeout);
});

Deno.test("getJoke() times out when its clock reaches timeoutMs, and not a millisecond before", async () => {
  const clock = new FakeClock();
  // An hour: real time could never reach it while the test runs.
  const timeoutMs = 3_600_000;
  let aborted = false;
  const joke = getJoke({
    timeoutMs,
    clock,
    fetch: (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => {
          aborted = true;
          reject(init.signal?.reason);
        });
      }),
  });
  await clock.tick(timeoutMs - 1);
  assert.equal(aborted, false, "still waiting 1 ms before the deadline");
  await clock.tick(1);
  assertOffline(await within(joke, 10_000, "the offline joke"), JOKE_PROBLEMS.timeout);
});

Deno.test("getJoke() cancels its deadline once the service has answered", async () => {
  const clock = new FakeClock();
  const joke = await getJoke({
    clock,
    fetch: fakeFetch(() => Response.json({ type: "single", joke: "On time." })),
  });
  assert.deepEqual(joke, { lines: ["On time."], source: "api" });
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("getJoke() falls back when the connection is refused", async () => {
  const joke = await getJoke({ url: `http://127.0.0.1:${closedPort()}/` });
  assertOffline(joke, JOKE_PROBLEMS.unreachable);
});

Deno.test("getJoke() tells an unresolvable host from an unreachable one", async () => {
  // RFC 6761 guarantees .invalid never resolves; offline it fails at once.
  const joke = await getJoke({ url: "http://banter-no-such-host.invalid/" });
  assertOffline(joke, JOKE_PROBLEMS.unresolvable);
});

Deno.test("getJoke() classifies the error Deno's fetch throws for DNS", async () => {
  const cause = new Error(
    "error sending request for url (http://jokes.example/): client error " +
      "(Connect): dns error: failed to lookup address information: " +
      "Name or service not known",
  );
  const fetch = () => Promise.reject(new TypeError("fetch failed", { cause }));
  const joke = await getJoke({ fetch });
  assertOffline(joke, JOKE_PROBLEMS.unresolvable);
});

Deno.test("getJoke() keeps error details out of the problem", async () => {
  const fetch = () => Promise.reject(new TypeError("fetch failed: token=s3cret at 10.0.0.7"));
  const joke = await getJoke({ fetch });
  assertOffline(joke, JOKE_PROBLEMS.unreachable);
});

// The fallback

Deno.test("getJoke() picks the fallback with the injected Random", async () => {
  const fetch = fakeFetch(() => new Response(null, { status: 503 }));
  const first = await getJoke({ fetch, random: fixedRandom(0) });
  const last = await getJoke({ fetch, random: fixedRandom(0.9999) });
  const middle = await getJoke({ fetch, random: fixedRandom(0.5) });
  assert.deepEqual(first.lines, OFFLINE_JOKES[0]);
  assert.deepEqual(last.lines, OFFLINE_JOKES.at(-1));
  assert.deepEqual(middle.lines, OFFLINE_JOKES[OFFLINE_JOKES.length / 2]);
  assertOffline(middle, httpProblem(503));
});

Deno.test("getJoke() survives a Random that breaks its [0, 1) promise", async () => {
  const fetch = fakeFetch(() => new Response(null, { status: 503 }));
  const high = await getJoke({ fetch, random: fixedRandom(1) });
  const low = await getJoke({ fetch, random: fixedRandom(-0.5) });
  assert.deepEqual(high.lines, OFFLINE_JOKES.at(-1));
  assert.deepEqual(low.lines, OFFLINE_JOKES[0]);
});

Deno.test("built-in jokes are clean, bounded and pass parseJoke()", () => {
  assert.ok(OFFLINE_JOKES.length >= 10);
  for (const lines of OFFLINE_JOKES) {
    const value = lines.length === 1
      ? { type: "single", joke: lines[0] }
      : { type: "twopart", setup: lines[0], delivery: lines[1] };
    assert.deepEqual(parseJoke(value), lines);
  }
});

// The caller's abort

Deno.test("getJoke() rejects at once with an already aborted signal", async () => {
  const reason = new Error("user left");
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  await assert.rejects(
    getJoke({
      fetch: fakeFetch(() => Response.json({}), calls),
      signal: AbortSignal.abort(reason),
    }),
    (error) => error === reason,
  );
  assert.equal(calls.length, 0);
});

Deno.test("getJoke() rejects with the caller's reason while waiting for headers", async () => {
  await using api = startFakeJokeApi();
  const controller = new AbortController();
  const reason = new Error("user left");
  const fetch: typeof globalThis.fetch = (input, init) => {
    const response = globalThis.fetch(input, init);
    controller.abort(reason);
    return response;
  };
  await assert.rejects(
    getJoke({
      url: api.url("/slow-headers"),
      fetch,
      signal: controller.signal,
    }),
    (error) => error === reason,
  );
});

Deno.test("getJoke() rejects with the caller's reason while reading the body", async () => {
  await using api = startFakeJokeApi();
  const controller = new AbortController();
  const reason = new Error("user left");
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    controller.abort(reason);
    return response;
  };
  await assert.rejects(
    getJoke({ url: api.url("/never-ends"), fetch, signal: controller.signal }),
    (error) => error === reason,
  );
});

// Options

Deno.test("getJoke() rejects invalid options", async () => {
  await assert.rejects(getJoke({ timeoutMs: 0 }), RangeError);
  await assert.rejects(getJoke({ timeoutMs: Number.NaN }), RangeError);
  await assert.rejects(getJoke({ maxBytes: -1 }), RangeError);
  await assert.rejects(getJoke({ url: "not a url" }), TypeError);
});

// parseJoke()

Deno.test("parseJoke() reads each service's shape", () => {
  assert.deepEqual(
    parseJoke({ type: "general", setup: "S", punchline: "P", id: 1 }),
    ["S", "P"],
  );
  assert.deepEqual(parseJoke({ type: "single", joke: "J" }), ["J"]);
  assert.deepEqual(
    parseJoke({ type: "twopart", setup: "S", delivery: "D" }),
    ["S", "D"],
  );
});

Deno.test("parseJoke() collapses control characters and line breaks", () => {
  assert.deepEqual(
    parseJoke({
      type: "single",
      joke: "  Line\r\none\t\u0000two\u2028end\x1b[31m ",
    }),
    ["Line one two end [31m"],
  );
});

Deno.test("parseJoke() drops invisible formatting such as bidi overrides", () => {
  assert.deepEqual(
    parseJoke({ type: "single", joke: "abc\u202Egfed\u200B" }),
    ["abcgfed"],
  );
});

Deno.test("parseJoke() rejects empty and blank lines", () => {
  assert.equal(parseJoke({ type: "single", joke: "" }), undefined);
  assert.equal(parseJoke({ type: "single", joke: " \n\t " }), undefined);
  assert.equal(parseJoke({ setup: "S", punchline: "\u0007" }), undefined);
});

Deno.test("parseJoke() bounds line length after cleaning", () => {
  const longest = "a".repeat(MAX_JOKE_LINE_LENGTH);
  assert.deepEqual(parseJoke({ type: "single", joke: longest }), [longest]);
  assert.equal(parseJoke({ type: "single", joke: `${longest}a` }), undefined);
  assert.deepEqual(
    parseJoke({ type: "single", joke: `${longest}\n\n\n` }),
    [longest],
  );
});

Deno.test("parseJoke() rejects fields of the wrong type", () => {
  assert.equal(parseJoke({ setup: 1, punchline: "P" }), undefined);
  assert.equal(parseJoke({ setup: "S" }), undefined);
  assert.equal(
    parseJoke({ type: "single", setup: "S", punchline: "P" }),
    undefined,
  );
  assert.equal(
    parseJoke({ type: "twopart", setup: "S", punchline: "P" }),
    undefined,
  );
  assert.equal(parseJoke({ type: "single", joke: ["J"] }), undefined);
});

Deno.test("parseJoke() rejects JokeAPI error replies", () => {
  assert.equal(
    parseJoke({ error: true, message: "No matching joke found", joke: "J" }),
    undefined,
  );
  assert.deepEqual(parseJoke({ error: false, type: "single", joke: "J" }), [
    "J",
  ]);
});

Deno.test("parseJoke() rejects values that are not objects", () => {
  for (const value of [undefined, null, 0, "joke", true, [], [[]]]) {
    assert.equal(parseJoke(value), undefined);
  }
});

Deno.test("parseJoke() takes the first valid item of an array", () => {
  assert.deepEqual(
    parseJoke([
      null,
      [{ type: "single", joke: "nested" }],
      { setup: "", punchline: "P" },
      { type: "single", joke: "first" },
      { type: "single", joke: "second" },
    ]),
    ["first"],
  );
});

// The fake joke API itself

Deno.test("fake joke API close() ends a body that never ends", async () => {
  const api = startFakeJokeApi();
  const response = await fetch(api.url("/never-ends"));
  const text = response.text();
  await Promise.all([api.close(), api.close()]);
  assert.equal(await text, '{"type":"general","setup":"');
  assert.equal(api.hits("/never-ends"), 1);
  assert.equal(api.hits("/elsewhere"), 0);
});
