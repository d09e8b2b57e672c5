/**
 * The operations endpoint: a Hono app with `GET /healthz` and `GET /metrics`,
 * and {@linkcode serveHttp} to run it on its own port. The app knows nothing
 * of the chat server: it is handed a health check and a metrics renderer.
 *
 * @module
 */
import { Hono } from "hono";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

/** Options for {@linkcode createHttpApp}. */
export interface HttpAppOptions {
  /** Whether the server accepts connections (false once shutting down). */
  healthy: () => boolean;
  /** The metrics in the Prometheus text format. */
  metrics: () => string;
  /** Cluster mode: whether the NATS link is up; while it is not, `/healthz` answers 503 `nats link lost`. */
  clusterUp?: () => boolean;
}

/**
 * The operations app: `/healthz` answers 200 while `healthy()` and 503
 * after; `/metrics` answers the metrics text.
 *
 * @param options Health check and metrics.
 * @returns The app; serve it with `app.fetch`.
 *
 * @example Usage
 * ```ts
 * import { createHttpApp } from "./http.ts";
 * import assert from "node:assert/strict";
 *
 * const app = createHttpApp({ healthy: () => false, metrics: () => "" });
 * const response = await app.request("/healthz");
 * assert.equal(response.status, 503);
 * await response.body?.cancel();
 * ```
 */
export function createHttpApp(options: HttpAppOptions): Hono {
  const app = new Hono();
  app.use(async function noStore(c, next) {
    await next();
    c.header("cache-control", "no-store");
  });
  app.get("/healthz", (c) => {
    if (!options.healthy()) return c.text("shutting down\n", 503);
    const cluster = options.clusterUp;
    if (cluster === undefined) return c.text("ok\n");
    return cluster() ? c.text("ok\nnats: up\n") : c.text("nats link lost\n", 503);
  });
  app.get(
    "/metrics",
    (c) => c.body(options.metrics(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }),
  );
  return app;
}

/** Options for {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  /** Address to bind. */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
}

/** A running HTTP listener. */
export interface HttpServer extends AsyncDisposable {
  /** The bound address. */
  readonly addr: { hostname: string; port: number };
  /** Stop listening and finish requests in flight. */
  close(): Promise<void>;
}

/**
 * Serve `handler` over plain HTTP.
 *
 * @param handler Answers each request, e.g. `app.fetch`.
 * @param options Address and port.
 * @returns The running listener.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export function serveHttp(
  handler: (request: Request) => Response | Promise<Response>,
  options: ServeHttpOptions,
): HttpServer {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {}, // the server logs its own addresses
  }, handler);
  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.shutdown();
  return {
    addr: { hostname: server.addr.hostname, port: server.addr.port },
    close,
    [Symbol.asyncDispose]: close,
  };
}
