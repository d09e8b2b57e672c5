/**
 * The client side of the transport: {@linkcode connect} to a Banter server
 * over TLS (`Deno.connectTls`, hostname verification always on), with
 * failures classified into a {@linkcode ConnectError} whose `code` the
 * client turns into words. Loads no certificate parser.
 *
 * A port that does not speak Banter is told apart too: the client offers
 * the ALPN protocol {@linkcode BANTER_ALPN}, which an HTTPS server (that
 * lists its own, `h2` and `http/1.1`) refuses with `no_application_protocol`;
 * a server that answers the handshake with bytes that are not TLS is asked
 * once more over plain TCP to see whether it speaks HTTP.
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
  | "not_tls"
  | "http"
  | "other_protocol"
  | "tls";

/**
 * The ALPN protocol name the client offers. A server that configures no
 * ALPN (the Banter server) ignores it; one that lists other protocols
 * (HTTPS) refuses the handshake, so a wrong port is named at once.
 */
export const BANTER_ALPN = "banter";

/** How long the plain-TCP look at a port that did not answer in TLS may take. */
export const PROBE_TIMEOUT_MS = 2_000;

/** What the look sends: a TLS record header, which any HTTP/1 server answers with 400. */
const PROBE_BYTES = new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05]);

/** A connection attempt failed; `code` says why. */
export class ConnectError extends Error {
  /** Machine-readable cause. */
  readonly code: ConnectErrorCode;
  /** For `name_mismatch`: the names the certificate is valid for, when known. */
  readonly validNames: readonly string[];
  /**
   * @param code The cause.
   * @param message Underlying error text.
   * @param options The original error, and for `name_mismatch` the names
   * the certificate is valid for.
   */
  constructor(
    code: ConnectErrorCode,
    message: string,
    options?: ErrorOptions & { validNames?: readonly string[] },
  ) {
    super(message, options);
    this.name = "ConnectError";
    this.code = code;
    this.validNames = options?.validNames ?? [];
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
    : /NoApplicationProtocol/i.test(message)
    ? "other_protocol"
    : /InvalidContentType|corrupt message/i.test(message)
    ? "not_tls"
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
  const validNames = code === "name_mismatch" ? namesIn(message) : [];
  return new ConnectError(code, message, { cause: error, validNames });
}

/**
 * The names rustls lists after "certificate is only valid for", e.g.
 * `DnsName("localhost"), IpAddress(127.0.0.1) or DnsName("chat.example.org")`.
 */
function namesIn(message: string): string[] {
  const list = message.split(/only valid for/i)[1] ?? "";
  return [...list.matchAll(/DnsName\("([^"]*)"\)|IpAddress\(([^)]*)\)/g)].map((m) =>
    m[1] ?? m[2] ?? ""
  ).filter((name) => name !== "");
}

/**
 * Whether the server on `hostname:port` answers plain HTTP: one TCP
 * connection, a TLS record header sent, the first bytes of the answer read
 * within {@linkcode PROBE_TIMEOUT_MS}.
 */
async function answersHttp(hostname: string, port: number, clock: Clock): Promise<boolean> {
  const expired = Promise.withResolvers<undefined>();
  const timer = clock.setTimeout(() => expired.resolve(undefined), PROBE_TIMEOUT_MS);
  let conn: Deno.TcpConn | undefined;
  let done = false;
  try {
    const answer = (async () => {
      conn = await Deno.connect({ hostname, port });
      if (done) conn.close(); // the look took too long: the read below fails
      await conn.write(PROBE_BYTES);
      const buffer = new Uint8Array(8);
      let filled = 0;
      while (filled < 5) {
        const n = await conn.read(buffer.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      return new TextDecoder().decode(buffer.subarray(0, filled));
    })();
    answer.catch(() => undefined); // settles after the timeout: nothing to report
    const first = await Promise.race([answer, expired.promise]);
    return first?.startsWith("HTTP/") ?? false;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw error;
    }
    return false; // could not ask: keep the TLS answer's own classification
  } finally {
    done = true;
    clock.clearTimeout(timer);
    if (conn) safeClose(() => conn!.close())();
  }
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
        alpnProtocols: [BANTER_ALPN],
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
    clock.clearTimeout(timer);
    const classified = classifyConnectError(error);
    if (classified.code === "not_tls" && await answersHttp(options.hostname, options.port, clock)) {
      throw new ConnectError("http", classified.message, { cause: error });
    }
    throw classified;
  } finally {
    clock.clearTimeout(timer);
  }
  return denoConnection(conn, { address: conn.remoteAddr.hostname, port: conn.remoteAddr.port });
}
