/**
 * The client side of the transport: {@linkcode connect} to a Banter server
 * over TLS (`Deno.connectTls`, hostname verification always on), with
 * failures classified into a {@linkcode ConnectError} whose `code` the
 * client turns into words. Loads no certificate parser.
 *
 * @module
 */
import { type Clock, systemClock } from "../util/clock.ts";
import { type Connection, denoConnection, safeClose } from "./connection.ts";

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
  /** Times `timeoutMs`. @default systemClock */
  clock?: Clock;
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
  const clock = options.clock ?? systemClock;
  const expired = Promise.withResolvers<"timeout">();
  const timer = clock.setTimeout(() => expired.resolve("timeout"), options.timeoutMs ?? 10_000);
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
    const result = await Promise.race([attempt, expired.promise]);
    if (result === "timeout") {
      attempt.then((c) => c.close(), () => undefined);
      throw new ConnectError("timeout", "Connection timed out");
    }
    conn = result;
  } catch (error) {
    if (conn) safeClose(() => conn!.close())();
    throw classifyConnectError(error);
  } finally {
    clock.clearTimeout(timer);
  }
  return denoConnection(conn, { address: conn.remoteAddr.hostname, port: conn.remoteAddr.port });
}
