/**
 * A connection's bytes as two plain objects, the shape the hot path uses:
 * {@linkcode ByteSource} to read chunks, {@linkcode ByteSink} to write them.
 * It is what every lib/net Connection offers (both TLS engines and the
 * client, directly on the socket, without a stream pair per connection);
 * web streams adapt to it.
 *
 * @module
 */

/** Where a connection's bytes come from. */
export interface ByteSource {
  /** The next chunk, or undefined at end of input; rejects on a broken connection. */
  read(): Promise<Uint8Array | undefined>;
  /** Stop reading. */
  cancel(): Promise<void>;
}

/** Where a connection's bytes go. */
export interface ByteSink {
  /**
   * Send `bytes` (not copied). Returns undefined when the transport took
   * them at once, or a promise that settles once it can take more.
   */
  write(bytes: Uint8Array): Promise<void> | undefined;
  /**
   * Optional: send `parts` in order, as one {@linkcode write} of them joined
   * (`size` bytes in all), for a sink that joins them itself anyway (a
   * coalescing one), so the caller need not copy them first. Neither the
   * array nor the parts may be changed afterwards.
   */
  writeParts?(parts: readonly Uint8Array[], size: number): Promise<void> | undefined;
  /** Send what is pending, then end the write side. */
  close(): Promise<void>;
}

/**
 * A {@linkcode ByteSource} over a readable stream.
 *
 * @param readable Bytes; its reader is taken.
 * @returns The source.
 */
export function streamSource(readable: ReadableStream<Uint8Array>): ByteSource {
  const reader = readable.getReader();
  return {
    async read() {
      const { value, done } = await reader.read();
      return done ? undefined : value;
    },
    async cancel() {
      await reader.cancel().catch(() => undefined); // the peer may be gone
    },
  };
}

/**
 * A {@linkcode ByteSink} over a writable stream.
 *
 * @param writable Where bytes go; its writer is taken.
 * @returns The sink.
 */
export function streamSink(writable: WritableStream<Uint8Array>): ByteSink {
  const writer = writable.getWriter();
  return {
    write: (bytes) => writer.write(bytes),
    async close() {
      await writer.close().catch(() => undefined); // the peer may be gone
    },
  };
}
