/**
 * A TLS echo server on 127.0.0.1:0 from `lib/net/tls_server.ts`, which records
 * the peers it saw, and a way to connect to it: for transport and
 * certificate tests.
 *
 * @module
 */
import type { Connection, PeerInfo } from "../lib/net/connection.ts";
import { connect, type ConnectOptions } from "../lib/net/tls_client.ts";
import { listen, type ListenOptions, type TlsServer } from "../lib/net/tls_server.ts";
import { testPki } from "./_helpers.ts";

/** A running echo server. */
export interface EchoServer extends AsyncDisposable {
  server: TlsServer;
  /** The peer of each connection, in order. */
  peers: PeerInfo[];
  /**
   * Connect to it as `localhost`, trusting the test CA.
   *
   * @param options What to use instead (hostname, caCerts, cert, key).
   */
  connect(options?: Partial<ConnectOptions>): Promise<Connection>;
}

/**
 * Start an echo server; it uses the test PKI's server certificate unless
 * `options` name another.
 *
 * @param options Listen options on top of 127.0.0.1:0.
 * @returns The server, closed on dispose.
 */
export async function echoServer(options: Partial<ListenOptions> = {}): Promise<EchoServer> {
  const p = await testPki();
  const peers: PeerInfo[] = [];
  const server = await listen({
    hostname: "127.0.0.1",
    port: 0,
    cert: p.server.cert,
    key: p.server.key,
    ...options,
  }, async (conn) => {
    peers.push(conn.peer);
    // A broken connection rejects: the server tracks and drops that.
    for (let chunk = await conn.source.read(); chunk; chunk = await conn.source.read()) {
      await conn.sink.write(chunk);
    }
    await conn.sink.close();
  });
  return {
    server,
    peers,
    connect: (options = {}) =>
      connect({
        hostname: "localhost",
        port: server.addr.port,
        caCerts: [p.ca.cert],
        ...options,
      }),
    [Symbol.asyncDispose]: () => server.close(1000),
  };
}
