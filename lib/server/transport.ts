/**
 * The chat listener, wired from the config: TLS files, engine, handshake
 * limits, and failed handshakes counted (and audited when they got far
 * enough to have an error).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type ConnectionHandler, listen, type TlsServer } from "../net/tls_server.ts";
import type { Clock } from "../util/clock.ts";
import type { Counter } from "./prometheus.ts";
import type { ServerConfig } from "./settings.ts";
import type { TlsFiles } from "./tls_files.ts";

const audit = getLogger(["banter", "audit"]);

/** Options for {@linkcode openTransport}. */
export interface TransportOptions {
  /** Certificate, key, client CA. */
  tls: TlsFiles;
  /** Counts handshakes that failed, timed out or were refused. */
  handshakesFailed: Counter;
  /** Runs the handshake timeouts and the shutdown drain deadline. */
  clock: Clock;
}

/**
 * Listen for chat connections as `config` says.
 *
 * @param config Address, engine and handshake limits.
 * @param options TLS files and the failed-handshake counter.
 * @param handler Runs for each handshaken connection.
 * @returns The listener.
 * @throws {Error} "Cannot listen on <host>:<port>: <reason>", with the cause.
 */
export async function openTransport(
  config: ServerConfig,
  options: TransportOptions,
  handler: ConnectionHandler,
): Promise<TlsServer> {
  const { tls, handshakesFailed, clock } = options;
  try {
    return await listen({
      hostname: config.hostname,
      port: config.port,
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa === undefined ? {} : {
        clientCa: tls.clientCa,
        requireClientCert: config.requireClientCert,
        ...(tls.clientCertPins === undefined ? {} : { clientCertPins: tls.clientCertPins }),
        onClientCertificateRefused: (reason: string, address: string) => {
          if (config.requireClientCert) handshakesFailed.inc();
          audit.warn("Client certificate from {address} refused: {reason}", { address, reason });
        },
      }),
      engine: config.tlsEngine,
      clock,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      maxPendingHandshakes: config.maxPendingHandshakes,
      maxPendingHandshakesPerIp: config.maxPendingHandshakesPerIp,
      // Counted, not logged: a flood would drown the log.
      onPendingRefused: () => handshakesFailed.inc(),
      onHandshakeError: (error, address) => {
        handshakesFailed.inc();
        audit.info("TLS handshake failed from {address}: {error}", {
          address,
          error: error.message,
        });
      },
    }, handler);
  } catch (error) {
    throw cannotListen(config.hostname, config.port, error);
  }
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
