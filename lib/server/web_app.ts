/**
 * The web client's HTTPS routes as a Hono app: `/` (the page), `/app.js`,
 * `/app.css`, and `/ws`, where a WebSocket from the server's own origin is
 * upgraded and handed on; every response carries the security headers. The
 * app knows no socket and no chat: it is given the files and an upgrade.
 *
 * @module
 */
import { Hono } from "hono";

/** The bundled web client, read once at start-up. */
export interface WebFiles {
  /** The page. */
  readonly html: string;
  /** The bundled script. */
  readonly js: string;
  /** The style sheet. */
  readonly css: string;
}

/** Options for {@linkcode createWebApp}. */
export interface WebAppOptions {
  /** What `/`, `/app.js` and `/app.css` serve. */
  files: WebFiles;
  /** Origins (`https://host:port`) that may open `/ws`; any other gets 403. */
  origins: ReadonlySet<string>;
  /** Upgrades an accepted `/ws` request; returns the 101 response. */
  upgrade: (request: Request, remote: { address: string; port: number }) => Response;
}

/** Where Deno.serve says a request came from (passed as Hono's env). */
export interface WebEnv {
  readonly remote: { address: string; port: number };
}

/**
 * The Content-Security-Policy of every response: only this origin's script,
 * style and WebSocket; no inline code, no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers set on every response but a WebSocket upgrade. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "strict-transport-security": "max-age=31536000",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-store",
});

/**
 * The web app.
 *
 * @param options Files, allowed origins, the upgrade.
 * @returns The app; serve it with `app.fetch(request, { remote })`.
 *
 * @example A foreign origin cannot open the WebSocket
 * ```ts
 * import { createWebApp } from "./web_app.ts";
 * import assert from "node:assert/strict";
 *
 * const app = createWebApp({
 *   files: { html: "", js: "", css: "" },
 *   origins: new Set(["https://localhost:9443"]),
 *   upgrade: () => new Response(null, { status: 500 }),
 * });
 * const response = await app.request("/ws", {
 *   headers: { origin: "https://evil.example", upgrade: "websocket" },
 * }, { remote: { address: "127.0.0.1", port: 1 } });
 * assert.equal(response.status, 403);
 * await response.body?.cancel();
 * ```
 */
export function createWebApp(options: WebAppOptions): Hono<{ Bindings: WebEnv }> {
  const { files, origins, upgrade } = options;
  const app = new Hono<{ Bindings: WebEnv }>();
  app.use(async function securityHeaders(c, next) {
    await next();
    if (c.res.status === 101) return;
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  app.get("/", (c) => c.body(files.html, 200, { "content-type": "text/html; charset=utf-8" }));
  app.get(
    "/app.js",
    (c) => c.body(files.js, 200, { "content-type": "text/javascript; charset=utf-8" }),
  );
  app.get("/app.css", (c) => c.body(files.css, 200, { "content-type": "text/css; charset=utf-8" }));
  app.get("/ws", (c) => {
    const origin = c.req.header("origin");
    if (origin === undefined || !origins.has(origin)) {
      return c.text("Cannot open the WebSocket: foreign origin\n", 403);
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.text("Cannot open the WebSocket: not an upgrade request\n", 426);
    }
    return upgrade(c.req.raw, c.env.remote);
  });
  app.notFound((c) => c.text("Not found\n", 404));
  return app;
}

/**
 * The origins a page served on `port` may have: `https://` and the
 * configured hostname, plus the loopback names when it is a loopback or
 * wildcard address, plus `names` (the server certificate's DNS and IP
 * names: a browser that trusts the page reached it by one of them).
 *
 * @param hostname The address the server is configured with.
 * @param port The web port it listens on.
 * @param names More host names or addresses. @default none
 * @returns The allowed `Origin` values.
 */
export function webOrigins(
  hostname: string,
  port: number,
  names: Iterable<string> = [],
): Set<string> {
  const bracket = (host: string) => host.includes(":") ? `[${host}]` : host;
  const hosts = new Set([bracket(hostname)]);
  if (["127.0.0.1", "::1", "localhost", "0.0.0.0", "::"].includes(hostname)) {
    for (const name of ["localhost", "127.0.0.1", "[::1]"]) hosts.add(name);
  }
  for (const name of names) if (!name.includes("*")) hosts.add(bracket(name.toLowerCase()));
  return new Set(
    [...hosts].map((host) => port === 443 ? `https://${host}` : `https://${host}:${port}`),
  );
}

/**
 * Read `--web-origin`: a comma-separated list of page origins.
 *
 * @param text The setting's value.
 * @returns Each as its normalised origin (`https://host[:port]`).
 * @throws {TypeError} "Cannot use --web-origin: <value> is not an https:// origin".
 *
 * @example
 * ```ts
 * import { parseWebOrigins } from "./web_app.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseWebOrigins("https://Chat.Example.org:9443, https://a.example:443"), [
 *   "https://chat.example.org:9443",
 *   "https://a.example",
 * ]);
 * ```
 */
export function parseWebOrigins(text: string): string[] {
  return text.split(",").map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    let url: URL | undefined;
    try {
      url = new URL(part);
    } catch {
      url = undefined;
    }
    if (
      url === undefined || url.protocol !== "https:" ||
      url.origin !== part.toLowerCase().replace(/:443$/, "") &&
        `${url.origin}/` !== part.toLowerCase()
    ) {
      throw new TypeError(
        `Cannot use --web-origin: ${JSON.stringify(part.slice(0, 200))} is not an https:// origin`,
      );
    }
    return url.origin;
  });
}
