/**
 * Raw TCP probes that are not modern TLS: a TLS 1.1 ClientHello built by
 * hand, plaintext lines, HTTP. Each returns what the server answered.
 *
 * @module
 */
import { within } from "./_helpers.ts";

/** A TLS 1.1 ClientHello (no supported_versions extension). */
export function tls11ClientHello(): Uint8Array {
  const random = crypto.getRandomValues(new Uint8Array(32));
  const suites = [0xc0, 0x13, 0xc0, 0x14, 0x00, 0x2f, 0x00, 0x35];
  const body = [
    0x03,
    0x02, // client_version TLS 1.1
    ...random,
    0x00, // session id length
    0x00,
    suites.length,
    ...suites,
    0x01,
    0x00, // compression: null
  ];
  const handshake = [0x01, 0x00, body.length >> 8, body.length & 0xff, ...body];
  return new Uint8Array([
    0x16,
    0x03,
    0x01,
    handshake.length >> 8,
    handshake.length & 0xff,
    ...handshake,
  ]);
}

/** What the server did with a probe. */
export interface ProbeResult {
  /** Bytes the server sent before closing (up to 4 KiB). */
  bytes: Uint8Array;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * Send `payload` over plain TCP and collect the answer until the server
 * closes (or `ms` passes).
 */
export async function probe(
  port: number,
  payload: Uint8Array | string,
  ms = 5000,
): Promise<ProbeResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
    );
    const chunks: number[] = [];
    const buf = new Uint8Array(4096);
    const read = async () => {
      for (;;) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch {
          return true; // reset counts as closed
        }
        if (n === null) return true;
        chunks.push(...buf.subarray(0, n));
        if (chunks.length > 4096) return false;
      }
    };
    const closed = await within(read(), ms, "the server to close the probe");
    return { bytes: new Uint8Array(chunks), closed };
  } finally {
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
