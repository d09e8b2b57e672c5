/**
 * The `node` engine: `node:tls`. Verifies client certificates, turns Nagle
 * off, and times the handshake on the raw TCP socket (Deno's node:tls
 * ignores `handshakeTimeout`). Each socket becomes a {@linkcode Connection}
 * whose source and sink sit directly on the socket, without streams.
 *
 * @module
 */
import * as tls from "node:tls";
import type { Socket } from "node:net";
import type { ByteSink, ByteSource } from "../wire/byte_channel.ts";
import type { EngineHooks, EngineListener, EngineTls } from "./_engine.ts";
import { clientCertificateProblem, MAX_CLIENT_CHAIN_LENGTH } from "./client_certificate.ts";
import type { Connection, PeerInfo } from "./connection.ts";
import { WriteCoalescing } from "./_write_coalescing.ts";
import { NativeWrites, nativeWrites, NOT_NATIVE } from "./_native_writes.ts";
import { concatBytes } from "../util/bytes.ts";

/**
 * Listen with `node:tls` and report each connection to `hooks`.
 *
 * @param options Address and certificates.
 * @param hooks Handshake accounting and the accepted connections.
 * @returns The bound listener.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export async function listenNode(options: EngineTls, hooks: EngineHooks): Promise<EngineListener> {
  // Per connection in its handshake: ends its timer and frees its slot.
  const inHandshake = new Map<string, () => void>();
  // Busy connections gather their deliveries into one write per window.
  const coalescing = new WriteCoalescing(options.writeCoalescing);
  const keyOf = (s: Socket) => `${s.remoteAddress}:${s.remotePort}`;
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    minVersion: "TLSv1.2",
    // The peer's end of writing does not end ours: node would end the
    // socket at once, cutting what the native writer still holds (it
    // bypasses the socket's own buffer) and the close_notify behind it.
    // Whoever reads the end closes the connection (SocketChannel.close:
    // everything written, then the TLS close).
    allowHalfOpen: true,
    ...(options.clientCa
      ? {
        ca: [options.clientCa],
        requestCert: true,
        rejectUnauthorized: options.requireClientCert,
      }
      : {}),
  }, (socket) => {
    inHandshake.get(keyOf(socket))?.();
    socket.setNoDelay(true);
    const address = socket.remoteAddress ?? "unknown";
    let certificateName = options.clientCa && socket.authorized
      ? peerCommonName(socket)
      : undefined;
    const problem = options.clientCa && socket.authorized && options.clientCertPolicy
      ? clientCertificateProblem(peerChain(socket), certificateName, options.clientCertPolicy)
      : undefined;
    if (problem !== undefined) {
      certificateName = undefined;
      hooks.certificateRefused(problem, address);
      if (options.requireClientCert) {
        // close_notify, then the socket: the peer sees a clean end, no frame.
        socket.end(() => socket.destroy());
        return;
      }
    }
    const peer: PeerInfo = {
      address,
      port: socket.remotePort ?? 0,
      ...(certificateName === undefined ? {} : { certificateName }),
    };
    hooks.accepted(nodeConnection(socket, peer, coalescing));
  });
  // Sockets the caps or the timer closed: their "socket hang up" is no
  // second failure. And each socket's address, which node:tls no longer
  // knows when it reports a failure.
  const dropped = new WeakSet<Socket>();
  const addresses = new WeakMap<Socket, string>();
  server.on("connection", (raw: Socket) => {
    const ip = raw.remoteAddress ?? "unknown";
    addresses.set(raw, ip);
    const settle = hooks.beginHandshake(ip, () => {
      dropped.add(raw);
      raw.destroy();
    });
    if (settle === undefined) return;
    const key = keyOf(raw);
    const once = () => {
      if (inHandshake.get(key) !== once) return;
      inHandshake.delete(key);
      settle();
    };
    inHandshake.set(key, once);
    raw.once("close", once);
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    // node:tls keeps the TCP socket it wraps as `_parent` (Deno 2.9.6 too);
    // the TLS socket's own address is gone once the TCP socket is destroyed.
    const raw = (socket as tls.TLSSocket & { _parent?: Socket })._parent;
    if (raw !== undefined && dropped.has(raw)) return;
    const ip = (raw && addresses.get(raw)) ?? socket.remoteAddress ?? "unknown";
    hooks.handshakeFailed(error, ip);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => undefined); // accept errors must not crash the server
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("Cannot listen: no TCP address");
  }
  return {
    addr: { hostname: address.address, port: address.port },
    close: () => server.close(),
  };
}

/**
 * The subject CN of the peer's (verified) certificate, as node:tls parsed
 * it: the first one when the subject names several, like `commonName` in
 * certs.ts, without loading a certificate parser.
 */
function peerCommonName(socket: tls.TLSSocket): string | undefined {
  const cn: string | string[] | undefined = socket.getPeerCertificate(false)?.subject?.CN;
  const first = Array.isArray(cn) ? cn[0] : cn;
  return first;
}

/**
 * The certificates the peer sent, DER, its own first, following
 * `issuerCertificate` as node:tls links them (at most
 * {@linkcode MAX_CLIENT_CHAIN_LENGTH}, stopping at a self-signed one).
 */
function peerChain(socket: tls.TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256) && chain.length < MAX_CLIENT_CHAIN_LENGTH) {
    seen.add(cert.fingerprint256);
    chain.push(new Uint8Array(cert.raw));
    cert = cert.issuerCertificate;
  }
  return chain;
}

/** Options for {@linkcode SocketChannel}. */
export interface SocketChannelOptions {
  /**
   * Write onto the socket's native handle when it offers that (see
   * _native_writes.ts); false keeps to `socket.write`. @default true
   */
  nativeWrites?: boolean;
}

/**
 * A node socket as a {@linkcode ByteSource} and {@linkcode ByteSink} (one
 * object is both: an idle connection holds one object and four listeners,
 * not a closure per method), with backpressure both ways and no stream
 * objects: what a session uses. Writes go onto the native handle when it
 * offers that, else through `socket.write`.
 *
 * @example
 * ```ts ignore
 * const channel = new SocketChannel(tlsSocket);
 * await channel.writeParts([head, body], head.length + body.length);
 * ```
 */
export class SocketChannel implements ByteSource, ByteSink {
  readonly #socket: Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #paused = false;
  #failure: Error | undefined;
  #native: NativeWrites | undefined;
  /**
   * The one pending read (a session reads one chunk at a time): settled
   * straight from the socket's events, no async frame held while idle.
   */
  #waiting: PromiseWithResolvers<Uint8Array | undefined> | undefined;

  /**
   * @param socket A connected socket; read from now on.
   * @param options Which write path.
   */
  constructor(socket: Socket, options: SocketChannelOptions = {}) {
    this.#socket = socket;
    this.#native = options.nativeWrites === false ? undefined : nativeWrites(socket);
    socket.on("data", (chunk: Uint8Array) => this.#data(chunk));
    socket.on("end", () => this.#finish());
    socket.on("error", (error: Error) => this.#finish(error));
    socket.on("close", () => {
      this.#native?.fail();
      this.#finish();
    });
    socket.resume(); // Deno's node:tls starts the socket paused
  }

  /** Whether writes go onto the native handle (false: `socket.write`). */
  get native(): boolean {
    return this.#native !== undefined;
  }

  read(): Promise<Uint8Array | undefined> {
    const chunk = this.#take();
    if (chunk !== undefined) return Promise.resolve(chunk);
    if (this.#ended) {
      return this.#failure ? Promise.reject(this.#failure) : Promise.resolve(undefined);
    }
    this.#waiting ??= Promise.withResolvers(); // a second reader shares the first's chunk
    return this.#waiting.promise;
  }

  cancel(): Promise<void> {
    this.#chunks.length = 0;
    this.#finish();
    this.#socket.destroy();
    return Promise.resolve();
  }

  write(bytes: Uint8Array): Promise<void> | undefined {
    return this.writeParts([bytes], bytes.length);
  }

  /**
   * Like {@linkcode write} of `parts` joined; on the native path they are
   * joined by the handle, not copied here first. Neither the array nor the
   * parts may change afterwards.
   */
  writeParts(parts: readonly Uint8Array[], size: number): Promise<void> | undefined {
    const native = this.#native;
    if (native !== undefined) {
      const written = native.writeParts(parts, size);
      if (written !== NOT_NATIVE) return written;
      this.#native = undefined; // the handle is not what it was: the public path from now on
    }
    return this.#publicWrite(parts.length === 1 ? unpinned(parts[0]!) : concatBytes(parts, size));
  }

  #publicWrite(bytes: Uint8Array): Promise<void> | undefined {
    const socket = this.#socket;
    if (socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("Cannot write: socket closed"));
    }
    if (socket.write(bytes)) return undefined;
    return new Promise<void>((resolve, reject) => {
      const drained = () => {
        socket.off("close", closed);
        resolve();
      };
      const closed = () => {
        socket.off("drain", drained);
        reject(new Deno.errors.BrokenPipe("Cannot write: socket closed"));
      };
      socket.once("drain", drained);
      socket.once("close", closed);
    });
  }

  async close(): Promise<void> {
    // What went onto the handle goes first, then close_notify behind it.
    await this.#native?.flushed();
    // Resolve once everything is flushed, so a later destroy() loses nothing.
    const socket = this.#socket;
    return await new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once("close", () => resolve());
      socket.end(() => resolve());
    });
  }

  #data(chunk: Uint8Array): void {
    if (this.#ended) return;
    this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (this.#chunks.length >= 4 && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#answer();
  }

  #finish(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = error;
    this.#answer();
  }

  #take(): Uint8Array | undefined {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined && this.#paused && this.#chunks.length === 0) {
      this.#paused = false;
      this.#socket.resume();
    }
    return chunk;
  }

  /** Settle the pending read, if there is one and something to give it. */
  #answer(): void {
    const reader = this.#waiting;
    if (reader === undefined) return;
    const chunk = this.#take();
    if (chunk !== undefined) {
      this.#waiting = undefined;
      reader.resolve(chunk);
    } else if (this.#ended) {
      this.#waiting = undefined;
      if (this.#failure) reader.reject(this.#failure);
      else reader.resolve(undefined);
    }
  }
}

/** A node socket as a {@linkcode Connection}, its writes coalesced. */
function nodeConnection(socket: Socket, peer: PeerInfo, coalescing: WriteCoalescing): Connection {
  const channel = new SocketChannel(socket);
  return {
    peer,
    source: channel,
    sink: coalescing.wrap(channel),
    close: () => {
      socket.destroy();
    },
  };
}

/**
 * `bytes`, copied when it is a small view of a larger buffer (an outbox
 * chunk): node's write buffer counts a view's own bytes against its
 * high-water mark but keeps the whole buffer alive until it is written.
 */
function unpinned(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength * 2 < bytes.buffer.byteLength ? bytes.slice() : bytes;
}
