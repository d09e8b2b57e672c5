/**
 * The chat listener, wired from the config: TLS files, engine, handshake
 * limits, and refused connections and failed handshakes reported (counted
 * once each, logged as summaries) to {@linkcode Refusals}.
 *
 * @module
 */
import {
  type ConnectionHandler,
  listen,
  type PendingRefusalReason,
  type TlsServer,
} from "../net/tls_server.ts";
import type { Clock } from "../util/clock.ts";
import type { RefusalReason } from "./metrics.ts";
import type { Refusals } from "./refusals.ts";
import type { ServerConfig } from "./settings.ts";
import type { TlsFiles } from "./tls_files.ts";

/** The metrics' name for each reason the handshake caps give. */
const PENDING_REFUSALS: Readonly<Record<PendingRefusalReason, RefusalReason>> = {
  address: "handshake_per_address",
  full: "handshake_pool_full",
  evicted: "handshake_evicted",
};

/** Options for {@linkcode openTransport}. */
export interface TransportOptions {
  /** Certificate, key, client CA. */
  tls: Omit<TlsFiles, "expiry">;
  /** Counts and logs refused connections and failed handshakes. */
  refusals: Pick<Refusals, "refused" | "handshakeFailed" | "clientCertificateRefused">;
  /** Runs the handshake timeouts and the shutdown drain deadline. */
  clock: Clock;
}

/**
 * Listen for chat connections as `config` says.
 *
 * @param config Address, engine and handshake limits.
 * @param options TLS files, where refusals go, the clock.
 * @param handler Runs for each handshaken connection.
 * @returns The listener.
 * @throws {Error} "Cannot listen on <host>:<port>: <reason>", with the cause.
 */
export async function openTransport(
  config: ServerConfig,
  options: TransportOptions,
  handler: ConnectionHandler,
): Promise<TlsServer> {
  const { tls, refusals, clock } = options;
  try {
    requireListenPermission(config.hostname, config.port);
    return await listen({
      hostname: config.hostname,
      port: config.port,
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa === undefined ? {} : {
        clientCa: tls.clientCa,
        requireClientCert: config.requireClientCert,
        ...(tls.clientCertPins === undefined ? {} : { clientCertPins: tls.clientCertPins }),
        onClientCertificateRefused: (reason: string, address: string) =>
          refusals.clientCertificateRefused(address, reason, { failed: config.requireClientCert }),
      }),
      engine: config.tlsEngine,
      clock,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      writeCoalesceMs: config.writeCoalesceMs,
      writeCoalesceMaxMs: config.writeCoalesceMaxMs,
      maxPendingHandshakes: config.maxPendingHandshakes,
      maxPendingHandshakesPerIp: config.maxPendingHandshakesPerIp,
      onPendingRefused: (address, reason) => refusals.refused(address, PENDING_REFUSALS[reason]),
      onHandshakeError: (error, address) => refusals.handshakeFailed(address, error),
    }, handler);
  } catch (error) {
    throw cannotListen(config.hostname, config.port, error);
  }
}

/**
 * Throw Deno's own `NotCapable` before listening where the process may not:
 * `node:tls` would otherwise throw it later, uncaught, from inside its
 * listen.
 *
 * @param hostname The address.
 * @param port The port (0: any).
 * @throws {Deno.errors.NotCapable} "Requires net access to "<host:port>", ...".
 */
function requireListenPermission(hostname: string, port: number): void {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const target = port === 0 ? host : `${host}:${port}`;
  if (Deno.permissions.querySync({ name: "net", host: target }).state === "granted") return;
  throw new Deno.errors.NotCapable(
    `Requires net access to "${target}", run again with the --allow-net flag`,
  );
}

/**
 * The error for a port that cannot be listened on, naming the address.
 *
 * @param hostname The address asked for.
 * @param port The port asked for.
 * @param cause What the listener threw.
 * @returns "Cannot listen on <host>:<port>: <reason>", with the cause.
 */
export function cannotListen(hostname: string, port: number, cause: unknown): Error {
  return new Error(
    `Cannot listen on ${hostname}:${port}: ${cause instanceof Error ? cause.message : cause}`,
    { cause },
  );
}
