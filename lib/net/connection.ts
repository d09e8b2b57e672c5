/**
 * What a transport hands over once TLS is set up: a {@linkcode Connection},
 * the verified {@linkcode PeerInfo} plus the connection's bytes as a
 * {@linkcode ByteSource} / {@linkcode ByteSink} pair. Shared by both server
 * engines and the client's `connect`.
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
