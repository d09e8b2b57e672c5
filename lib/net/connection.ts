/**
 * What a transport hands over once TLS is set up: a {@linkcode Connection},
 * the verified {@linkcode PeerInfo} plus the connection's bytes as a
 * {@linkcode ByteSource} / {@linkcode ByteSink} pair, the one byte API of
 * both server engines and the client's `connect`; and that pair over a Deno
 * connection ({@linkcode denoConnection}; the node engine has its own).
 *
 * @module
 */
import type { ByteSink, ByteSource } from "../wire/byte_channel.ts";

/** Who is on the other end, as far as TLS could verify. */
export interface PeerInfo {
  /** Remote IP address. */
  readonly address: string;
  /** Remote port. */
  readonly port: number;
  /** Subject CN of a client certificate that verified against the client CA. */
  readonly certificateName?: string;
}

/**
 * One established, handshaken TLS connection: its bytes as a source and a
 * sink (lib/wire/byte_channel.ts), the same on every engine and the client.
 */
export interface Connection {
  readonly peer: PeerInfo;
  /** Bytes from the peer; `cancel()` closes the connection. */
  readonly source: ByteSource;
  /** Bytes to the peer; `close()` flushes, then ends the write side. */
  readonly sink: ByteSink;
  /** Close the socket now, without waiting for queued writes. */
  close(): void;
  /**
   * Told once the peer has logged in, so a transport that holds bounds of
   * its own before login (a WebSocket's message and unread caps) lifts them.
   */
  loggedIn?(): void;
}

/** Bytes asked for per read on a busy Deno connection (one TLS record's worth). */
const READ_BYTES = 16 * 1024;

/**
 * Bytes asked for after a read that did not fill its buffer: a pending read
 * holds its buffer while the connection is idle, so an idle connection
 * holds this much instead of {@linkcode READ_BYTES}.
 */
const IDLE_READ_BYTES = 1024;

/**
 * A Deno connection (`Deno.listenTls` or `Deno.connectTls`, handshaken) as
 * a {@linkcode Connection}: reads and writes go straight to the resource,
 * without a stream pair. Writes run one after another in call order; a
 * read pending when the connection is closed here ends the input quietly.
 *
 * @param conn The connection; owned from now on.
 * @param peer Who is on the other end.
 * @returns The connection.
 */
export function denoConnection(conn: Deno.Conn, peer: PeerInfo): Connection {
  let closed = false;
  const close = safeClose(() => {
    closed = true;
    conn.close();
  });
  let writing: Promise<void> = Promise.resolve();
  let readBytes = IDLE_READ_BYTES;
  const source: ByteSource = {
    async read() {
      if (closed) return undefined;
      const buffer = new Uint8Array(readBytes);
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (closed) return undefined;
        throw error;
      }
      if (n === null) return undefined;
      // A full buffer: more is waiting, read in records. Else back to small.
      readBytes = n === buffer.length ? READ_BYTES : IDLE_READ_BYTES;
      return buffer.subarray(0, n);
    },
    cancel() {
      close();
      return Promise.resolve();
    },
  };
  const sink: ByteSink = {
    write(bytes) {
      const done = writing.then(() => writeAll(conn, bytes));
      writing = done.catch(() => undefined); // the caller sees the failure
      return done;
    },
    async close() {
      await writing;
      if (closed) return;
      // The peer may be gone already: then there is nothing to end.
      await conn.closeWrite().catch(() => undefined);
    },
  };
  return { peer, source, sink, close };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/**
 * Wrap a Deno resource's `close` so that it runs once and a resource that
 * is gone already is not an error.
 *
 * @param close Closes the resource.
 * @returns The idempotent close.
 */
export function safeClose(close: () => void): () => void {
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
