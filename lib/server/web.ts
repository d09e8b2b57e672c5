/**
 * The HTTPS server of the web client: reads the bundle built by `deno task
 * web:build` (next to this module, so it works from source and compiled),
 * serves {@linkcode createWebApp} with the chat certificate, and hands each
 * accepted WebSocket to the same connection handler as TLS clients.
 *
 * @module
 */
import { join } from "node:path";
import type { Connection } from "../net/connection.ts";
import {
  webSocketConnection,
  type WebSocketConnectionOptions,
} from "../net/websocket_connection.ts";
import { createWebApp, type WebFiles, webOrigins } from "./web_app.ts";

/** Where the bundle is, relative to the repository (or compiled binary) root. */
export const WEB_DIST = "web/dist";

const DIST_DIR = join(import.meta.dirname ?? ".", "..", "..", WEB_DIST);

/** Options for {@linkcode serveWeb}. */
export interface ServeWebOptions {
  /** Address to bind (the chat port's). */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** PEM certificate chain and key, the chat port's. */
  cert: string;
  key: string;
  /** The bundle's directory. @default web/dist beside the repository's lib/ */
  distDir?: string;
  /** Bounds on each WebSocket's messages (the frame caps; see lib/net/websocket_connection.ts). */
  webSocket?: WebSocketConnectionOptions;
}

/** A running web server. */
export interface WebServer extends AsyncDisposable {
  /** The bound address. */
  readonly addr: { hostname: string; port: number };
  /** Stop listening and close the WebSockets' handlers' connections. */
  close(): Promise<void>;
}

/**
 * Read the bundle.
 *
 * @param dir Its directory.
 * @returns The page, script and style sheet.
 * @throws {Error} "Cannot serve the web client: ... run deno task web:build".
 */
export async function readWebFiles(dir: string = DIST_DIR): Promise<WebFiles> {
  try {
    const [html, js, css] = await Promise.all(
      ["index.html", "app.js", "app.css"].map((name) => Deno.readTextFile(join(dir, name))),
    );
    return { html: html!, js: js!, css: css! };
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(
      `Cannot serve the web client: the bundle in ${dir} is missing (${reason}); run deno task web:build`,
      { cause },
    );
  }
}

/**
 * Serve the web client over HTTPS.
 *
 * @param options Address, certificate, bundle.
 * @param handler Runs each accepted WebSocket as a connection (the TLS handler).
 * @returns The running server.
 * @throws {Error} When the bundle is missing or the port cannot be bound.
 */
export async function serveWeb(
  options: ServeWebOptions,
  handler: (conn: Connection) => Promise<void>,
): Promise<WebServer> {
  const files = await readWebFiles(options.distDir);
  const handlers = new Set<Promise<void>>();
  const origins = new Set<string>(); // filled once the port is known
  const app = createWebApp({
    files,
    origins,
    upgrade(request, remote) {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const done = handler(webSocketConnection(socket, remote, options.webSocket))
        .catch(() => undefined)
        .finally(() => handlers.delete(done));
      handlers.add(done);
      return response;
    },
  });
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    cert: options.cert,
    key: options.key,
    onListen: () => {}, // the server logs its own addresses
  }, (request, info) => {
    const addr = info.remoteAddr as Deno.NetAddr;
    return app.fetch(request, { remote: { address: addr.hostname, port: addr.port } });
  });
  for (const origin of webOrigins(options.hostname, server.addr.port)) origins.add(origin);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await server.shutdown();
      await Promise.allSettled(handlers);
    })();
  return {
    addr: { hostname: server.addr.hostname, port: server.addr.port },
    close,
    [Symbol.asyncDispose]: close,
  };
}
