/**
 * The `deno` engine: `Deno.listenTls`. Cannot request client certificates,
 * keeps Nagle on, and (Deno 2.9.6) closing a connection whose handshake is
 * pending does not free its socket, so a silent peer holds it until it
 * leaves; the handshake timer still frees its pending-handshake slot.
 *
 * @module
 */
import type { EngineHooks, EngineListener, EngineTls } from "./_engine.ts";
import { denoConnection, safeClose } from "./connection.ts";
import { WriteCoalescing } from "./_write_coalescing.ts";

/**
 * Listen with `Deno.listenTls` and report each connection to `hooks`.
 *
 * @param tls Address and certificates (client certificates are not supported).
 * @param hooks Handshake accounting and the accepted connections.
 * @returns The bound listener.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export function listenDeno(tls: EngineTls, hooks: EngineHooks): EngineListener {
  const listener = Deno.listenTls({
    hostname: tls.hostname,
    port: tls.port,
    cert: tls.cert,
    key: tls.key,
  });
  let accepting = true;
  // Busy connections gather their deliveries into one write per window.
  const coalescing = new WriteCoalescing(tls.writeCoalescing);

  const handshake = async (conn: Deno.TlsConn) => {
    const close = safeClose(() => conn.close());
    const ip = conn.remoteAddr.hostname;
    const expired = Promise.withResolvers<"expired">();
    const settle = hooks.beginHandshake(ip, () => {
      close();
      expired.resolve("expired");
    });
    if (settle === undefined) return;
    let result: Deno.TlsHandshakeInfo | "expired";
    try {
      result = await Promise.race([conn.handshake(), expired.promise]);
    } catch (error) {
      close();
      hooks.handshakeFailed(error instanceof Error ? error : new Error(String(error)), ip);
      return;
    } finally {
      settle();
    }
    if (result === "expired") return; // dropped and reported already
    const connection = denoConnection(conn, { address: ip, port: conn.remoteAddr.port });
    hooks.accepted({ ...connection, sink: coalescing.wrap(connection.sink) });
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

  return {
    addr: { hostname: listener.addr.hostname, port: listener.addr.port },
    close() {
      accepting = false;
      safeClose(() => listener.close())();
    },
  };
}
