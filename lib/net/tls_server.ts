/**
 * The only file that touches sockets. A TLS listener (Deno's `listenTls`, or
 * `node:tls` when client certificates must be requested) yields
 * {@linkcode Connection}s — byte streams plus the verified peer — to a handler,
 * tracks every handler and drains them on shutdown. Also the client's
 * `connect`, with TLS failures classified.
 *
 * @module
 */
import * as tls from "node:tls";
import type { Socket } from "node:net";
import type { ByteSink, ByteSource } from "../wire/byte_channel.ts";
import { commonName } from "./certs.ts";

/** Who is on the other end, as far as TLS could verify. */
export interface PeerInfo {
  /** Remote IP address. */
  readonly address: string;
  /** Remote port. */
  readonly port: number;
  /** Subject CN of a client certificate that verified against the client CA. */
  readonly certificateName?: string;
}

/** One established, handshaken TLS connection. */
export interface Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly peer: PeerInfo;
  /**
   * The same bytes without streams, when the engine offers it (node): use
   * either these or `readable`/`writable`, not both.
   */
  readonly source?: ByteSource;
  readonly sink?: ByteSink;
  /** Close the socket now, without waiting for queued writes. */
  close(): void;
}

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
   * TLS engine. `node` (node:tls) verifies client certificates, turns Nagle
   * off and enforces the handshake timeout. `deno` (Deno.listenTls, checked on
   * 2.9.6) cannot request client certificates, keeps Nagle on, and closing a
   * connection whose handshake is pending does not free its socket, so a
   * silent peer holds it until it leaves. @default "node"
   */
  engine?: TransportEngine;
  /** A handshake that takes longer is dropped. @default 10000 */
  handshakeTimeoutMs?: number;
  /** Called for each failed handshake (for logs and metrics). */
  onHandshakeError?: (error: Error, address: string) => void;
  /**
   * Most connections still in their TLS handshake, in all; more are closed at
   * once (before they cost a TLS session). @default 1024
   */
  maxPendingHandshakes?: number;
  /** Most connections in their TLS handshake from one address. @default 64 */
  maxPendingHandshakesPerIp?: number;
  /** Called when a connection is closed for passing a handshake cap. */
  onPendingRefused?: (address: string) => void;
}

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

function timeout(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    id = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

class Tracker {
  readonly #handlers = new Set<Promise<void>>();
  readonly #closers = new Set<() => void>();

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
    const t = timeout(timeoutMs);
    await Promise.race([Promise.allSettled([...this.#handlers]), t.promise]);
    t.cancel();
    for (const close of this.#closers) close();
    await Promise.allSettled([...this.#handlers]);
  }
}

function safeClose(close: () => void): () => void {
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    try {
      close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  };
}

/**
 * Counts connections still in their TLS handshake, in all and per address,
 * so silent or slow peers cannot hold unbounded sockets until the handshake
 * timeout.
 */
class PendingHandshakes {
  readonly #max: number;
  readonly #maxPerIp: number;
  readonly #byIp = new Map<string, number>();
  #total = 0;

  constructor(options: ListenOptions) {
    this.#max = options.maxPendingHandshakes ?? 1024;
    this.#maxPerIp = options.maxPendingHandshakesPerIp ?? 64;
  }

  /** Count a new connection; false when it is over a cap (not counted). */
  admit(ip: string): boolean {
    const mine = this.#byIp.get(ip) ?? 0;
    if (this.#total >= this.#max || mine >= this.#maxPerIp) return false;
    this.#total++;
    this.#byIp.set(ip, mine + 1);
    return true;
  }

  /** The connection finished (or gave up) its handshake. */
  release(ip: string): void {
    this.#total--;
    const left = (this.#byIp.get(ip) ?? 1) - 1;
    if (left === 0) this.#byIp.delete(ip);
    else this.#byIp.set(ip, left);
  }
}

/**
 * Listen for TLS connections and run `handler` for each handshaken one.
 *
 * @param options Address, certificates, engine.
 * @param handler Runs per connection; the connection closes when it settles.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export function listen(
  options: ListenOptions,
  handler: ConnectionHandler,
): Promise<TlsServer> {
  const engine = options.clientCa ? "node" : options.engine ?? "node";
  if (options.requireClientCert && !options.clientCa) {
    throw new TypeError(
      "Cannot require client certificates: no client CA given",
    );
  }
  return engine === "node"
    ? listenNode(options, handler)
    : Promise.resolve(listenDeno(options, handler));
}

function listenDeno(
  options: ListenOptions,
  handler: ConnectionHandler,
): TlsServer {
  const listener = Deno.listenTls({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 9001,
    cert: options.cert,
    key: options.key,
  });
  const tracker = new Tracker();
  const handshakeMs = options.handshakeTimeoutMs ?? 10_000;
  let accepting = true;

  const pendingHandshakes = new PendingHandshakes(options);
  const handshake = async (conn: Deno.TlsConn) => {
    const close = safeClose(() => conn.close());
    const ip = conn.remoteAddr.hostname;
    if (!pendingHandshakes.admit(ip)) {
      close();
      options.onPendingRefused?.(ip);
      return;
    }
    const t = timeout(handshakeMs);
    try {
      const result = await Promise.race([conn.handshake(), t.promise]);
      if (result === "timeout") throw new Error("TLS handshake timed out");
    } catch (error) {
      close();
      options.onHandshakeError?.(
        error instanceof Error ? error : new Error(String(error)),
        conn.remoteAddr.hostname,
      );
      return;
    } finally {
      t.cancel();
      pendingHandshakes.release(ip);
    }
    tracker.run({
      readable: conn.readable,
      writable: conn.writable,
      peer: { address: conn.remoteAddr.hostname, port: conn.remoteAddr.port },
      close,
    }, handler);
  };

  const acceptLoop = async () => {
    while (accepting) {
      let conn: Deno.TlsConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!accepting || error instanceof Deno.errors.BadResource) return;
        continue; // e.g. a socket reset before accept: keep serving
      }
      handshake(conn);
    }
  };
  acceptLoop();

  return serverHandle(
    { hostname: listener.addr.hostname, port: listener.addr.port },
    "deno",
    tracker,
    () => {
      accepting = false;
      safeClose(() => listener.close())();
    },
  );
}

function serverHandle(
  addr: { hostname: string; port: number },
  engine: TransportEngine,
  tracker: Tracker,
  closeListener: () => void,
): TlsServer {
  let accepting = true;
  const stopAccepting = () => {
    if (!accepting) return;
    accepting = false;
    closeListener();
  };
  const close = async (timeoutMs = 5000) => {
    stopAccepting();
    await tracker.drain(timeoutMs);
  };
  return {
    addr,
    engine,
    get active() {
      return tracker.size;
    },
    stopAccepting,
    close,
    [Symbol.asyncDispose]: () => close(0),
  };
}

/**
 * A node socket as a {@linkcode ByteSource} and {@linkcode ByteSink}, with
 * backpressure both ways and no stream objects: what a session uses.
 *
 * @param socket A connected socket.
 * @returns Source and sink.
 */
function socketChannel(socket: Socket): { source: ByteSource; sink: ByteSink } {
  const chunks: Uint8Array[] = [];
  let ended = false;
  let paused = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  socket.on("data", (chunk: Uint8Array) => {
    if (ended) return;
    chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (chunks.length >= 4 && !paused) {
      paused = true;
      socket.pause();
    }
    notify();
  });
  const finish = (error?: Error) => {
    if (ended) return;
    ended = true;
    failure = error;
    notify();
  };
  socket.on("end", () => finish());
  socket.on("error", (error: Error) => finish(error));
  socket.on("close", () => finish());
  socket.resume(); // Deno's node:tls starts the socket paused

  const source: ByteSource = {
    async read() {
      for (;;) {
        const chunk = chunks.shift();
        if (chunk !== undefined) {
          if (paused && chunks.length === 0) {
            paused = false;
            socket.resume();
          }
          return chunk;
        }
        if (ended) {
          if (failure) throw failure;
          return undefined;
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
    cancel() {
      chunks.length = 0;
      finish();
      socket.destroy();
      return Promise.resolve();
    },
  };
  const sink: ByteSink = {
    write(bytes) {
      if (socket.destroyed) return Promise.reject(new Deno.errors.BrokenPipe("socket closed"));
      if (socket.write(bytes)) return undefined;
      return new Promise<void>((resolve, reject) => {
        const drained = () => {
          socket.off("close", closed);
          resolve();
        };
        const closed = () => {
          socket.off("drain", drained);
          reject(new Deno.errors.BrokenPipe("socket closed"));
        };
        socket.once("drain", drained);
        socket.once("close", closed);
      });
    },
    close() {
      // Resolve once everything is flushed, so a later destroy() loses nothing.
      return new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        socket.end(() => resolve());
      });
    },
  };
  return { source, sink };
}

/**
 * Web streams over a socket's channel, for callers that want streams (tests,
 * echo servers); sessions use the channel itself.
 *
 * @param channel The socket's source and sink.
 * @param socket The socket, destroyed on abort.
 * @returns Readable and writable byte streams.
 */
function channelStreams(
  channel: { source: ByteSource; sink: ByteSink },
  socket: Socket,
): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await channel.source.read();
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel: () => channel.source.cancel(),
  });
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => channel.sink.write(chunk),
    close: () => channel.sink.close(),
    abort() {
      socket.destroy();
    },
  });
  return { readable, writable };
}

/** A node socket as a {@linkcode Connection}: the channel now, streams on demand. */
function nodeConnection(socket: Socket, peer: PeerInfo): Connection {
  const channel = socketChannel(socket);
  let streams: ReturnType<typeof channelStreams> | undefined;
  return {
    peer,
    source: channel.source,
    sink: channel.sink,
    get readable() {
      streams ??= channelStreams(channel, socket);
      return streams.readable;
    },
    get writable() {
      streams ??= channelStreams(channel, socket);
      return streams.writable;
    },
    close: () => {
      socket.destroy();
    },
  };
}

async function listenNode(
  options: ListenOptions,
  handler: ConnectionHandler,
): Promise<TlsServer> {
  const tracker = new Tracker();
  const handshakeMs = options.handshakeTimeoutMs ?? 10_000;
  // Deno's node:tls ignores `handshakeTimeout`: time the raw socket ourselves.
  // Per connection in its handshake: ends its timer and frees its slot.
  const inHandshake = new Map<string, () => void>();
  const pendingHandshakes = new PendingHandshakes(options);
  const keyOf = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`;
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    minVersion: "TLSv1.2",
    ...(options.clientCa
      ? {
        ca: [options.clientCa],
        requestCert: true,
        rejectUnauthorized: options.requireClientCert ?? false,
      }
      : {}),
  }, (socket) => {
    inHandshake.get(keyOf(socket))?.();
    socket.setNoDelay(true);
    let certificateName: string | undefined;
    if (options.clientCa && socket.authorized) {
      const raw = socket.getPeerCertificate(false)?.raw;
      if (raw) certificateName = commonName(new Uint8Array(raw));
    }
    const peer: PeerInfo = {
      address: socket.remoteAddress ?? "unknown",
      port: socket.remotePort ?? 0,
      ...(certificateName === undefined ? {} : { certificateName }),
    };
    tracker.run(nodeConnection(socket, peer), handler);
  });
  server.on("connection", (raw: Socket) => {
    const ip = raw.remoteAddress ?? "unknown";
    if (!pendingHandshakes.admit(ip)) {
      raw.destroy();
      options.onPendingRefused?.(ip);
      return;
    }
    const key = keyOf(raw);
    const timer = setTimeout(() => {
      raw.destroy();
      options.onHandshakeError?.(new Error("TLS handshake timed out"), ip);
    }, handshakeMs);
    const settle = () => {
      if (inHandshake.get(key) !== settle) return;
      inHandshake.delete(key);
      clearTimeout(timer);
      pendingHandshakes.release(ip);
    };
    inHandshake.set(key, settle);
    raw.once("close", settle);
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    options.onHandshakeError?.(error, socket.remoteAddress ?? "unknown");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 9001, options.hostname ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => undefined); // accept errors must not crash the server
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("Cannot listen: no TCP address");
  }
  return serverHandle(
    { hostname: address.address, port: address.port },
    "node",
    tracker,
    () => server.close(),
  );
}

// ---------------------------------------------------------------- client side

/** Why a connection attempt failed. */
export type ConnectErrorCode =
  | "refused"
  | "unreachable"
  | "unknown_ca"
  | "name_mismatch"
  | "expired"
  | "not_yet_valid"
  | "certificate_required"
  | "certificate_refused"
  | "timeout"
  | "tls";

/** A connection attempt failed; `code` says why. */
export class ConnectError extends Error {
  /** Machine-readable cause. */
  readonly code: ConnectErrorCode;
  /**
   * @param code The cause.
   * @param message Underlying error text.
   * @param options The original error.
   */
  constructor(code: ConnectErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
    this.code = code;
  }
}

/** Options for {@linkcode connect}. */
export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Trusted CA certificates, PEM; the system roots when omitted. */
  caCerts?: string[];
  /** Client certificate chain, PEM (mutual TLS). */
  cert?: string;
  /** Client private key, PEM. */
  key?: string;
  /** Give up on connect + handshake after this long. @default 10000 */
  timeoutMs?: number;
}

/**
 * Map a connect or handshake failure to a {@linkcode ConnectErrorCode}.
 *
 * @param error What Deno threw.
 * @returns The classified error.
 */
export function classifyConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code: ConnectErrorCode = error instanceof Deno.errors.ConnectionRefused
    ? "refused"
    : /UnknownIssuer|BadSignature|UnknownCA/i.test(message)
    ? "unknown_ca"
    : /NotValidForName|not valid for name/i.test(message)
    ? "name_mismatch"
    : /expired/i.test(message)
    ? "expired"
    : /NotValidYet|not valid before/i.test(message)
    ? "not_yet_valid"
    : /CertificateRequired/i.test(message)
    ? "certificate_required"
    : /BadCertificate|CertificateUnknown|DecryptError/i.test(message)
    ? "certificate_refused"
    : error instanceof Deno.errors.TimedOut
    ? "timeout"
    : error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.ConnectionReset ||
        /lookup address|unreachable/i.test(message)
    ? "unreachable"
    : "tls";
  return new ConnectError(code, message, { cause: error });
}

/**
 * Connect to a Banter server over TLS; hostname verification is always on.
 *
 * @param options Where to, and which certificates.
 * @returns A handshaken connection.
 * @throws {ConnectError} Classified failure.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const t = timeout(options.timeoutMs ?? 10_000);
  let conn: Deno.TlsConn | undefined;
  try {
    const attempt = (async () => {
      conn = await Deno.connectTls({
        hostname: options.hostname,
        port: options.port,
        ...(options.caCerts ? { caCerts: options.caCerts } : {}),
        ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
      });
      await conn.handshake();
      return conn;
    })();
    const result = await Promise.race([attempt, t.promise]);
    if (result === "timeout") {
      attempt.then((c) => c.close(), () => undefined);
      throw new ConnectError("timeout", "Connection timed out");
    }
    conn = result;
  } catch (error) {
    if (conn) safeClose(() => conn!.close())();
    throw classifyConnectError(error);
  } finally {
    t.cancel();
  }
  const c = conn;
  return {
    readable: c.readable,
    writable: c.writable,
    peer: { address: c.remoteAddr.hostname, port: c.remoteAddr.port },
    close: safeClose(() => c.close()),
  };
}
