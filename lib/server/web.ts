/**
 * The HTTPS server of the web client: reads the bundle built by `deno task
 * web:build` (next to this module, so it works from source and compiled),
 * serves {@linkcode createWebApp} with the chat certificate, and hands each
 * accepted WebSocket to the same connection handler as TLS clients.
 *
 * Banter owns the web port's socket, as it owns the chat port's: TLS is
 * accepted by {@linkcode listen} (the handshake timeout, the pending-handshake
 * caps shared fairly by network), each connection then takes a place under
 * the per-address and total caps ({@linkcode Admission}), and one that sends
 * no request within the request timeout (or stays idle that long between
 * requests) is closed. The decrypted bytes are relayed to a `Deno.serve` on a
 * loopback port that answers only connections relayed here, so its
 * `shutdown()`, which waits on every connection, only ever waits on
 * connections Banter can close; closing is bounded by the caller's deadline.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import type { Connection } from "../net/connection.ts";
import { listen, type PendingRefusalReason, type TlsServer } from "../net/tls_server.ts";
import {
  webSocketConnection,
  type WebSocketConnectionOptions,
} from "../net/websocket_connection.ts";
import { WebSocketFrameLimit } from "../net/websocket_frame_limit.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { Admission } from "./admission.ts";
import { cannotListen } from "./transport.ts";
import { createWebApp, type WebFiles, webOrigins } from "./web_app.ts";

/** Where the bundle is, relative to the repository (or compiled binary) root. */
export const WEB_DIST = "web/dist";

const log = getLogger(["banter", "web"]);

const DIST_DIR = join(import.meta.dirname ?? ".", "..", "..", WEB_DIST);

/** Bytes relayed per read from the inner HTTP server. */
const RELAY_READ_BYTES = 16 * 1024;

/** Why the web port closed a connection before it reached the page. */
export type WebRefusalReason = PendingRefusalReason | "per_address" | "server_full" | "idle";

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
  /** Extra allowed page origins (`https://host[:port]`), beside {@linkcode webOrigins}'. */
  origins?: Iterable<string>;
  /** Runs the handshake and request timeouts and the close deadline. @default systemClock */
  clock?: Clock;
  /** A TLS handshake, or a wait for a request, longer than this closes the connection. @default 10000 */
  timeoutMs?: number;
  /** HTTP connections open at once (after their handshake). @default 10000 */
  maxConnections?: number;
  /**
   * HTTP connections open at once from one address (IPv6: one /64). One that
   * becomes a WebSocket gives its place back: the handler's caps count it.
   * @default 16
   */
  maxConnectionsPerIp?: number;
  /** Connections in their TLS handshake at once. @default 1024 */
  maxPendingHandshakes?: number;
  /** Connections in their TLS handshake from one address. @default 64 */
  maxPendingHandshakesPerIp?: number;
  /** Called once for each connection a cap or timeout closed. */
  onRefused?: (address: string, reason: WebRefusalReason) => void;
  /** Called for each failed TLS handshake. */
  onHandshakeError?: (error: Error, address: string) => void;
}

/** A running web server. */
export interface WebServer extends AsyncDisposable {
  /** The bound address. */
  readonly addr: { hostname: string; port: number };
  /** The origins `/ws` accepts. */
  readonly origins: ReadonlySet<string>;
  /**
   * Stop listening, then close every connection: those still busy after
   * `timeoutMs` are cut. @default timeoutMs 3000
   */
  close(timeoutMs?: number): Promise<void>;
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

/** One relayed connection, by the inner server's view of its port. */
interface Relayed {
  readonly remote: { address: string; port: number };
  /** Upgraded to a WebSocket: its session's heartbeat and caps watch it from now on. */
  upgraded: boolean;
  /** Gives back its place under the HTTP caps. */
  readonly release: () => void;
  /** Ends the relay (both sides closed). */
  stop?: () => void;
}

/**
 * Serve the web client over HTTPS.
 *
 * @param options Address, certificate, bundle, caps and timeouts.
 * @param handler Runs each accepted WebSocket as a connection (the TLS handler).
 * @returns The running server.
 * @throws {Error} When the bundle is missing, or "Cannot listen on <host>:<port>: ...".
 */
export async function serveWeb(
  options: ServeWebOptions,
  handler: (conn: Connection) => Promise<void>,
): Promise<WebServer> {
  const files = await readWebFiles(options.distDir);
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const handlers = new Set<Promise<void>>();
  const origins = new Set<string>(); // filled once the port is known
  const relayed = new Map<number, Relayed>();
  const byRemote = new WeakMap<object, Relayed>();
  const app = createWebApp({
    files,
    origins,
    upgrade(request, remote) {
      const entry = byRemote.get(remote);
      if (entry) {
        entry.upgraded = true;
        entry.release();
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      const done = handler(webSocketConnection(socket, remote, options.webSocket))
        .catch(() => undefined)
        .finally(() => handlers.delete(done));
      handlers.add(done);
      return response;
    },
  });
  const inner = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {}, // not a port anyone else should use
  }, (request, info) => {
    const entry = relayed.get((info.remoteAddr as Deno.NetAddr).port);
    if (entry === undefined) { // a local process, not a relayed connection
      return new Response("Cannot serve: not through the web port\n", { status: 403 });
    }
    return app.fetch(request, { remote: entry.remote });
  });
  const admission = new Admission({
    maxConnections: options.maxConnections ?? 10_000,
    maxConnectionsPerIp: options.maxConnectionsPerIp ?? 16,
  });
  const relay = async (conn: Connection) => {
    const ticket = admission.admit(conn.peer.address);
    if (!ticket.admitted) {
      options.onRefused?.(
        conn.peer.address,
        ticket.reason === "full" ? "server_full" : "per_address",
      );
      await refuseHttp(conn, ticket.message);
      return;
    }
    let upstream: Deno.TcpConn | undefined;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port });
      await relayBytes(conn, upstream, {
        clock,
        timeoutMs,
        entry: (port) => {
          const entry: Relayed = {
            remote: { address: conn.peer.address, port: conn.peer.port },
            upgraded: false,
            release: ticket.release,
          };
          byRemote.set(entry.remote, entry);
          relayed.set(port, entry);
          return entry;
        },
        onIdle: () => options.onRefused?.(conn.peer.address, "idle"),
        ...(options.webSocket?.maxMessageBytes === undefined
          ? {}
          : { maxMessageBytes: options.webSocket.maxMessageBytes }),
        onTooBig: () =>
          log.info("Closed a WebSocket from {address}: message over the frame cap", {
            address: conn.peer.address,
          }),
      });
    } finally {
      if (upstream) relayed.delete(upstream.localAddr.port);
      ticket.release();
    }
  };
  let outer: TlsServer;
  try {
    outer = await listen({
      hostname: options.hostname,
      port: options.port,
      cert: options.cert,
      key: options.key,
      engine: "node", // the engine whose handshake timeout frees the socket
      clock,
      handshakeTimeoutMs: timeoutMs,
      ...(options.maxPendingHandshakes === undefined
        ? {}
        : { maxPendingHandshakes: options.maxPendingHandshakes }),
      ...(options.maxPendingHandshakesPerIp === undefined
        ? {}
        : { maxPendingHandshakesPerIp: options.maxPendingHandshakesPerIp }),
      onPendingRefused: (address, reason) => options.onRefused?.(address, reason),
      ...(options.onHandshakeError ? { onHandshakeError: options.onHandshakeError } : {}),
    }, relay);
  } catch (error) {
    await inner.shutdown();
    throw cannotListen(options.hostname, options.port, error);
  }
  const names = certificateNames(options.cert);
  for (const origin of webOrigins(options.hostname, outer.addr.port, names)) origins.add(origin);
  for (const origin of options.origins ?? []) origins.add(origin);
  let closing: Promise<void> | undefined;
  const close = (deadlineMs = 3000) =>
    closing ??= (async () => {
      // Cuts what is still relayed at the deadline; the inner server then
      // has no connection left to wait on, and is not waited on past it.
      // Plain HTTP has nothing to finish: cut it now. WebSockets are sessions,
      // told goodbye already; they get until the deadline to send it.
      outer.stopAccepting();
      for (const entry of relayed.values()) if (!entry.upgraded) entry.stop?.();
      await outer.close(deadlineMs);
      const { promise: deadline, resolve } = Promise.withResolvers<void>();
      const id = clock.setTimeout(resolve, deadlineMs);
      await Promise.race([
        Promise.allSettled([inner.shutdown(), Promise.allSettled(handlers)]),
        deadline,
      ]);
      clock.clearTimeout(id);
      inner.unref();
    })();
  return {
    addr: outer.addr,
    origins,
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

/**
 * The DNS and IP names of the first certificate in `pem` (the server's own).
 *
 * @param pem A PEM chain.
 * @returns Its subjectAltName entries; none when it cannot be read.
 */
export function certificateNames(pem: string): string[] {
  let altNames: string | undefined;
  try {
    altNames = new X509Certificate(pem).subjectAltName;
  } catch {
    return []; // TLS itself refuses a certificate it cannot read
  }
  return (altNames ?? "").split(",").map((entry) => entry.trim()).flatMap((entry) => {
    const match = /^(DNS|IP Address):(.+)$/.exec(entry);
    return match ? [match[2]!] : [];
  });
}

/** Answer `503` with `message` and close: the browser shows why. */
async function refuseHttp(conn: Connection, message: string): Promise<void> {
  const body = new TextEncoder().encode(message + "\n");
  const head = "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n" +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n`;
  try {
    await conn.sink.write(new TextEncoder().encode(head));
    await conn.sink.write(body);
    await conn.sink.close();
  } catch {
    // The peer is gone already.
  } finally {
    conn.close();
  }
}

interface RelayOptions {
  clock: Clock;
  timeoutMs: number;
  /** Registers the relayed connection under the upstream's local port. */
  entry: (port: number) => Relayed;
  onIdle: () => void;
  /** The largest WebSocket message relayed. @default unchecked */
  maxMessageBytes?: number;
  /** Called when a message over it ends the connection. */
  onTooBig: () => void;
}

/**
 * Copy bytes both ways between the peer and the inner server until either
 * ends; a peer that sends nothing for `timeoutMs` while not upgraded (no
 * first request, or idle between requests) is closed.
 */
async function relayBytes(conn: Connection, upstream: Deno.TcpConn, options: RelayOptions) {
  const { clock, timeoutMs } = options;
  const entry = options.entry(upstream.localAddr.port);
  let timer: number | undefined;
  const stop = entry.stop = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    conn.close();
    try {
      upstream.close();
    } catch {
      // Closed already by the other direction.
    }
  };
  const arm = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = entry.upgraded ? undefined : clock.setTimeout(() => {
      options.onIdle();
      stop();
    }, timeoutMs);
  };
  arm();
  let frames: WebSocketFrameLimit | undefined;
  const toInner = (async () => {
    for (;;) {
      const chunk = await conn.source.read();
      if (chunk === undefined) return;
      arm();
      // Once upgraded, a frame announcing a message over the cap ends the
      // connection at its header, before Deno gathers up to 64 MiB of it.
      if (entry.upgraded && options.maxMessageBytes !== undefined) {
        frames ??= new WebSocketFrameLimit(options.maxMessageBytes);
        if (!frames.accept(chunk)) {
          options.onTooBig();
          return;
        }
      }
      for (let at = 0; at < chunk.length;) at += await upstream.write(chunk.subarray(at));
    }
  })();
  const toPeer = (async () => {
    const buffer = new Uint8Array(RELAY_READ_BYTES);
    for (;;) {
      const n = await upstream.read(buffer);
      if (n === null) return;
      arm(); // a response going out is not idle; once upgraded, no timer at all
      await conn.sink.write(buffer.slice(0, n));
    }
  })();
  try {
    await Promise.race([toInner, toPeer]);
  } catch {
    // Either side went away: both are closed below.
  } finally {
    stop();
    await Promise.allSettled([toInner, toPeer]);
  }
}
