/**
 * The seam between {@linkcode listen} in tls_server.ts and a TLS engine
 * (`_node_engine.ts`, `_deno_engine.ts`): what an engine is given, and what
 * it gives back. Handler tracking, handshake caps and the handshake timer
 * stay in tls_server.ts; an engine only accepts sockets and shakes hands.
 *
 * @module
 */
import type { ClientCertificatePolicy } from "./client_certificate.ts";
import type { Connection } from "./connection.ts";
import type { WriteCoalescingOptions } from "./_write_coalescing.ts";

/** Where to listen and with which certificates. */
export interface EngineTls {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  /** CA that signs client certificates; turns on certificate requests. */
  clientCa?: string;
  /** Checked after the TLS library verified a client certificate (with `clientCa`). */
  clientCertPolicy?: ClientCertificatePolicy;
  requireClientCert: boolean;
  /** How connections coalesce their writes. @default the defaults of _write_coalescing.ts */
  writeCoalescing?: WriteCoalescingOptions;
}

/** What an engine reports to {@linkcode listen}. */
export interface EngineHooks {
  /**
   * A socket from `ip` starts its handshake. Returns the function to call
   * once the handshake ended (either way), or undefined when the socket is
   * over a pending-handshake cap. `drop` closes the socket; it is called
   * (once) when the socket is refused, evicted, or its handshake runs out of
   * time.
   */
  beginHandshake(ip: string, drop: () => void): (() => void) | undefined;
  /** A handshake failed. */
  handshakeFailed(error: Error, ip: string): void;
  /**
   * A client certificate that verified was refused by the policy; with
   * required client certificates the connection is then closed.
   */
  certificateRefused(reason: string, ip: string): void;
  /** A handshaken connection, for the handler. */
  accepted(conn: Connection): void;
}

/** A bound engine. */
export interface EngineListener {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: { hostname: string; port: number };
  /** Stop accepting; established connections carry on. */
  close(): void;
}
