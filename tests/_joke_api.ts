/**
 * A real local HTTP joke service for tests, with one route per behaviour of
 * the public joke services, good and bad.
 *
 * Routes:
 * - `/official`: an official-joke-api object
 * - `/official-array`: an array whose first valid joke is the second item
 * - `/v2-single`, `/v2-twopart`: JokeAPI v2 jokes
 * - `/v2-error`: a JokeAPI v2 error reply, with HTTP 200
 * - `/404`, `/500`: HTTP errors
 * - `/not-json`: an HTML page
 * - `/wrong-shape`: JSON whose fields have the wrong types
 * - `/huge`: a streamed body of {@linkcode HUGE_BODY_BYTES} bytes
 * - `/never-ends`: headers and the start of a body that never ends
 * - `/slow-headers`: no answer until the server closes
 * - `/redirect?to=URL`: HTTP 302 to `URL`
 *
 * Closing ends any body still open (a client still reading sees it cut
 * short) and answers any waiting request with HTTP 503.
 *
 * @module
 */

import { Hono } from "hono";

/** The jokes the fake service tells, to assert on what a user sees. */
export const FAKE_JOKES = {
  official: ["Why did the test server smile?", "Every request was expected."],
  officialArray: ["What is a mock's favourite game?", "Pretend."],
  v2Single: ["The fake service never lies, except about everything."],
  v2Twopart: ["Why was localhost lonely?", "Nobody outside could reach it."],
} as const;

/** The size of the `/huge` body. */
export const HUGE_BODY_BYTES = 8 * 1024 * 1024;

const CHUNK_BYTES = 64 * 1024;

/** A running fake joke service. */
export interface FakeJokeApi extends AsyncDisposable {
  /** The absolute URL of `path` (for example `"/official"`) on this server. */
  url(path: string): string;
  /** How many requests `path` has received. */
  hits(path: string): number;
  /** Resolves once `path` has received a request. */
  requested(path: string): Promise<void>;
  /** Ends open bodies and pending answers, then stops the server. */
  close(): Promise<void>;
}

/**
 * Starts the fake joke service on a free port of 127.0.0.1.
 *
 * @returns The running service; close it, or use `await using`.
 *
 * @example Usage
 * ```ts ignore
 * await using api = startFakeJokeApi();
 * const joke = await getJoke({ url: api.url("/official") });
 * ```
 */
export function startFakeJokeApi(): FakeJokeApi {
  const hits = new Map<string, number>();
  const waiting = new Map<string, (() => void)[]>();
  const openBodies = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const pendingAnswers = new Set<(response: Response) => void>();
  const encoder = new TextEncoder();

  /** A body that `close()` ends if the client has not cancelled it. */
  function trackedBody(
    pull: (controller: ReadableStreamDefaultController<Uint8Array>) => void,
  ): ReadableStream<Uint8Array> {
    let tracked: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        tracked = controller;
        openBodies.add(controller);
      },
      pull,
      cancel() {
        openBodies.delete(tracked);
      },
    }, { highWaterMark: 0 });
  }

  const app = new Hono();
  app.use(async (c, next) => {
    hits.set(c.req.path, (hits.get(c.req.path) ?? 0) + 1);
    for (const resolve of waiting.get(c.req.path) ?? []) resolve();
    waiting.delete(c.req.path);
    await next();
  });
  app.get("/official", (c) =>
    c.json({
      type: "general",
      setup: FAKE_JOKES.official[0],
      punchline: FAKE_JOKES.official[1],
      id: 1,
    }));
  app.get("/official-array", (c) =>
    c.json([
      { type: "general", setup: " \n ", punchline: "Blank setup.", id: 2 },
      {
        type: "programming",
        setup: FAKE_JOKES.officialArray[0],
        punchline: FAKE_JOKES.officialArray[1],
        id: 3,
      },
    ]));
  app.get("/v2-single", (c) =>
    c.json({
      error: false,
      category: "Programming",
      type: "single",
      joke: FAKE_JOKES.v2Single[0],
      flags: { nsfw: false, religious: false, political: false },
      id: 4,
      safe: true,
      lang: "en",
    }));
  app.get("/v2-twopart", (c) =>
    c.json({
      error: false,
      category: "Programming",
      type: "twopart",
      setup: FAKE_JOKES.v2Twopart[0],
      delivery: FAKE_JOKES.v2Twopart[1],
      id: 5,
      safe: true,
      lang: "en",
    }));
  app.get("/v2-error", (c) =>
    c.json({
      error: true,
      internalError: false,
      code: 106,
      message: "No matching joke found",
      causedBy: ["No jokes were found that match your provided filter(s)."],
      joke: "An error reply that happens to carry a joke field.",
      timestamp: 0,
    }));
  app.get("/404", (c) => c.json({ type: "error", message: "Not found" }, 404));
  app.get("/500", (c) => c.text("Internal Server Error", 500));
  app.get("/not-json", (c) => c.html("<html><body>Jokes!</body></html>"));
  app.get(
    "/wrong-shape",
    (c) => c.json({ type: "general", setup: 42, punchline: null, id: "six" }),
  );
  app.get("/huge", () => {
    let sent = 0;
    const prefix = encoder.encode('{"type":"general","setup":"');
    const filler = new Uint8Array(CHUNK_BYTES).fill("a".charCodeAt(0));
    const body = trackedBody((controller) => {
      if (sent >= HUGE_BODY_BYTES) {
        openBodies.delete(controller);
        controller.close();
        return;
      }
      const chunk = sent === 0 ? prefix : filler;
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    });
    return new Response(body, {
      headers: { "content-type": "application/json" },
    });
  });
  app.get("/never-ends", () => {
    let started = false;
    const body = trackedBody((controller) => {
      if (started) return;
      started = true;
      controller.enqueue(encoder.encode('{"type":"general","setup":"'));
    });
    return new Response(body, {
      headers: { "content-type": "application/json" },
    });
  });
  app.get("/redirect", (c) => c.redirect(c.req.query("to") ?? "/official", 302));
  app.get("/slow-headers", () =>
    new Promise<Response>((resolve) => {
      pendingAnswers.add(resolve);
    }));

  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    app.fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  let closing: Promise<void> | undefined;

  function close(): Promise<void> {
    closing ??= (async () => {
      for (const controller of openBodies) {
        controller.close();
      }
      openBodies.clear();
      for (const answer of pendingAnswers) {
        answer(new Response(null, { status: 503 }));
      }
      pendingAnswers.clear();
      await server.shutdown();
    })();
    return closing;
  }

  return {
    url: (path) => new URL(path, base).href,
    hits: (path) => hits.get(path) ?? 0,
    requested(path) {
      if (hits.has(path)) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.set(path, [...(waiting.get(path) ?? []), resolve]);
      return promise;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago and has nothing
 * listening on it, so connecting to it is refused.
 *
 * @returns The port number.
 */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
