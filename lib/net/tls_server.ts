/**
 * The TLS listener: {@linkcode listen} yields {@linkcode Connection}s (bytes
 * plus the verified peer) to a handler, through one of two engines behind
 * one interface (`_node_engine.ts`, `_deno_engine.ts`). Here live what both
 * engines share: the caps on connections still in their handshake (shared
 * fairly between networks, `_handshake_pool.ts`), the handshake timer (on an
 * injected {@linkcode Clock}), and the tracking of every handler, drained on
 * shutdown. The client side is tls_client.ts.
 *
 * @module
 */
import { type Clock, systemClock } from "../util/clock.ts";
import type { EngineHooks, EngineTls } from "./_engine.ts";
import { HandshakePool } from "./_handshake_pool.ts";
import { listenDeno } from "./_deno_engine.ts";
import { listenNode } from "./_node_engine.ts";
import { DEFAULT_COALESCE_MS, DEFAULT_MAX_COALESCE_MS } from "./_write_coalescing.ts";
import {
  type ClientCertificatePolicy,
  type ClientCertPins,
  parseCertificates,
} from "./client_certificate.ts";
import type { Connection } from "./connection.ts";

/** Which TLS implementation accepts connections. */
export type TransportEngine = "deno" | "node";

/** Options for {@linkcode listen}. */
export interface ListenOptions {
  /** Address to bind. @default "127.0.0.1" */
  hostname?: string;
  /** Port to bind; 0 picks a free one. @default 9001 */
  port?: number;
  /** Server certificate chain, PEM. */
  cert: string;
  /** Server private key, PEM. */
  key: string;
  /** CA that signs client certificates; turns on certificate requests. */
  clientCa?: string;
  /** Refuse clients without a valid certificate (needs `clientCa`). */
  requireClientCert?: boolean;
  /**
   * With `clientCa`: only a certificate whose SHA-256 fingerprint is pinned
   * for its CN names a user; any other is refused like one that does not
   * verify. @default undefined (no pins: every certificate that passes)
   */
  clientCertPins?: ClientCertPins;
  /**
   * Called when a client certificate that the TLS library verified is
   * refused (a CA as leaf, a wrong key usage, a path length broken, not
   * pinned). With `requireClientCert` the connection is then closed;
   * without, it carries on as if it had sent no certificate.
   */
  onClientCertificateRefused?: (reason: string, address: string) => void;
  /**
   * TLS engine. `node` (node:tls) verifies client certificates, turns Nagle
   * off and enforces the handshake timeout. `deno` (Deno.listenTls, checked on
   * 2.9.6) cannot request client certificates, keeps Nagle on, and closing a
   * connection whose handshake is pending does not free its socket, so a
   * silent peer holds it until it leaves. @default "node"
   */
  engine?: TransportEngine;
  /**
   * How long a busy connection gathers its writes into one (one TLS record
   * and one `write`, up to 16 KiB); a connection that has not written for
   * this long writes at once; 0 turns it off. Runs on the real clock, not
   * `clock`. @default {DEFAULT_COALESCE_MS}
   */
  writeCoalesceMs?: number;
  /**
   * The longest such window: when many connections are busy the window
   * stretches towards it, so that they write about 10,000 times a second
   * together (see lib/net/_write_coalescing.ts). @default {DEFAULT_MAX_COALESCE_MS}
   */
  writeCoalesceMaxMs?: number;
  /** A handshake that takes longer is dropped. @default 10000 */
  handshakeTimeoutMs?: number;
  /**
   * Called once for each failed or timed-out handshake (for logs and
   * metrics); never for a connection the caps closed.
   */
  onHandshakeError?: (error: Error, address: string) => void;
  /**
   * Most connections still in their TLS handshake, in all. When all are
   * taken, a newcomer from a network (IPv4 /24, IPv6 /64) holding fewer than
   * the heaviest network evicts that network's oldest handshake; others are
   * closed at once (before they cost a TLS session). @default 1024
   */
  maxPendingHandshakes?: number;
  /**
   * Most connections in their TLS handshake from one address (IPv6: one
   * /64). @default 64
   */
  maxPendingHandshakesPerIp?: number;
  /** Called once for each connection closed by the handshake caps, and why. */
  onPendingRefused?: (address: string, reason: PendingRefusalReason) => void;
  /** Times handshakes and the shutdown drain. @default systemClock */
  clock?: Clock;
}

/**
 * Why the handshake caps closed a connection: its address was at its cap,
 * the pool was full and its network among the heaviest, or it was the
 * oldest of the heaviest network and a lighter one needed its slot.
 */
export type PendingRefusalReason = "address" | "full" | "evicted";

/** A running listener. */
export interface TlsServer extends AsyncDisposable {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: { hostname: string; port: number };
  /** The engine in use. */
  readonly engine: TransportEngine;
  /** Connections whose handler has not finished. */
  readonly active: number;
  /** Stop accepting; established connections carry on. */
  stopAccepting(): void;
  /**
   * Stop accepting, wait for handlers to finish up to `timeoutMs`, then close
   * the connections that remain.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** What runs for each connection. Its promise is tracked until it settles. */
export type ConnectionHandler = (conn: Connection) => Promise<void>;

/** Resolves after `ms` on `clock`, unless cancelled. */
function timeout(clock: Clock, ms: number): { promise: Promise<"timeout">; cancel(): void } {
  const { promise, resolve } = Promise.withResolvers<"timeout">();
  const id = clock.setTimeout(() => resolve("timeout"), ms);
  return { promise, cancel: () => clock.clearTimeout(id) };
}

/** Every running handler, with a way to close its connection. */
class Tracker {
  readonly #clock: Clock;
  readonly #handlers = new Set<Promise<void>>();
  readonly #closers = new Set<() => void>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#handlers.size;
  }

  run(conn: Connection, handler: ConnectionHandler): void {
    const closer = () => conn.close();
    this.#closers.add(closer);
    const done = handler(conn)
      .catch(() => undefined) // handlers own their errors; never crash the accept loop
      .finally(() => {
        this.#handlers.delete(done);
        this.#closers.delete(closer);
        closer();
      });
    this.#handlers.add(done);
  }

  async drain(timeoutMs: number): Promise<void> {
    const t = timeout(this.#clock, timeoutMs);
    await Promise.race([Promise.allSettled([...this.#handlers]), t.promise]);
    t.cancel();
    for (const close of this.#closers) close();
    await Promise.allSettled([...this.#handlers]);
  }
}

function clientCertPolicy(
  clientCa: string,
  pins: ClientCertPins | undefined,
): ClientCertificatePolicy {
  const anchors = parseCertificates(clientCa);
  return pins === undefined ? { anchors } : { anchors, pins };
}

/**
 * Listen for TLS connections and run `handler` for each handshaken one.
 *
 * @param options Address, certificates, engine.
 * @param handler Runs per connection; the connection closes when it settles.
 * @returns The running server.
 * @throws {TypeError} When client certificates are required without a client CA.
 * @throws {SyntaxError} When `clientCa` holds no certificate that parses.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export async function listen(
  options: ListenOptions,
  handler: ConnectionHandler,
): Promise<TlsServer> {
  const engine = options.clientCa ? "node" : options.engine ?? "node";
  if (options.requireClientCert && !options.clientCa) {
    throw new TypeError(
      "Cannot require client certificates: no client CA given",
    );
  }
  const clock = options.clock ?? systemClock;
  const tracker = new Tracker(clock);
  const pending = new HandshakePool({
    max: options.maxPendingHandshakes ?? 1024,
    maxPerAddress: options.maxPendingHandshakesPerIp ?? 64,
    timeoutMs: options.handshakeTimeoutMs ?? 10_000,
    clock,
  });
  const hooks: EngineHooks = {
    beginHandshake(ip, drop) {
      const slot = pending.begin(ip, (why) => {
        drop();
        if (why === "evicted") options.onPendingRefused?.(ip, "evicted");
        else options.onHandshakeError?.(new Error("TLS handshake timed out"), ip);
      });
      if (slot.admitted) return slot.release;
      drop();
      options.onPendingRefused?.(ip, slot.reason);
      return undefined;
    },
    handshakeFailed: (error, ip) => options.onHandshakeError?.(error, ip),
    certificateRefused: (reason, ip) => options.onClientCertificateRefused?.(reason, ip),
    accepted: (conn) => tracker.run(conn, handler),
  };
  const tls: EngineTls = {
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 9001,
    cert: options.cert,
    key: options.key,
    requireClientCert: options.requireClientCert ?? false,
    writeCoalescing: {
      windowMs: options.writeCoalesceMs ?? DEFAULT_COALESCE_MS,
      maxWindowMs: options.writeCoalesceMaxMs ?? DEFAULT_MAX_COALESCE_MS,
    },
    ...(options.clientCa === undefined ? {} : {
      clientCa: options.clientCa,
      clientCertPolicy: clientCertPolicy(options.clientCa, options.clientCertPins),
    }),
  };
  const listener = engine === "node" ? await listenNode(tls, hooks) : listenDeno(tls, hooks);

  let accepting = true;
  const stopAccepting = () => {
    if (!accepting) return;
    accepting = false;
    listener.close();
  };
  const close = async (timeoutMs = 5000) => {
    stopAccepting();
    await tracker.drain(timeoutMs);
  };
  return {
    addr: listener.addr,
    engine,
    get active() {
      return tracker.size;
    },
    stopAccepting,
    close,
    [Symbol.asyncDispose]: () => close(0),
  };
}
