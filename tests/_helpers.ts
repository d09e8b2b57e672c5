/**
 * Shared test helpers: certificates made once per process, temp dirs, waits
 * with timeouts, a fake clock and a line-oriented protocol client.
 *
 * @module
 */
import {
  type CertificateAuthority,
  type CertifiedKey,
  createCa,
  createClientCert,
  createServerCert,
} from "../lib/net/certs.ts";
import { LineReader } from "../lib/wire/framing.ts";
import {
  type ClientFrame,
  encodeFrame,
  parseServerFrame,
  type ServerFrame,
} from "../lib/wire/protocol.ts";
import type { Connection } from "../lib/net/connection.ts";
import { connect } from "../lib/net/tls_client.ts";

/**
 * How long a test waits for something that should happen by default: a bound
 * that fails a stuck test, never a pause (passing tests do not wait it out).
 * Generous, so a machine under load does not fail a correct test.
 */
export const WAIT_MS = 15_000;

/** A test PKI: our CA with server and client leaves, and a foreign CA. */
export interface TestPki {
  ca: CertificateAuthority;
  server: CertifiedKey;
  /** Client certificate with CN=alice. */
  alice: CertifiedKey;
  foreignCa: CertificateAuthority;
  /** Client certificate with CN=alice from the foreign CA. */
  foreignAlice: CertifiedKey;
  /** A server certificate that expired yesterday. */
  expiredServer: CertifiedKey;
  /** A server certificate for another name only. */
  otherNameServer: CertifiedKey;
}

let pki: Promise<TestPki> | undefined;

/** The process-wide test PKI (ECDSA generation is fast, but once is enough). */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const ca = await createCa("Banter Test CA");
    const foreignCa = await createCa("Foreign CA");
    return {
      ca,
      server: await createServerCert(ca),
      alice: await createClientCert(ca, "alice"),
      foreignCa,
      foreignAlice: await createClientCert(foreignCa, "alice"),
      expiredServer: await createServerCert(ca, {
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        days: 1,
      }),
      otherNameServer: await createServerCert(ca, {
        localhost: false,
        hosts: ["chat.example.org"],
      }),
    };
  })();
  return pki;
}

/**
 * Reject when `promise` has not settled within `ms`.
 *
 * @param promise What to wait for.
 * @param ms The bound.
 * @param what Named in the timeout error.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A temp dir removed on dispose. */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "banter-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** A protocol client for tests: send frames, await frames with timeouts. */
export class TestClient implements AsyncDisposable {
  readonly conn: Connection;
  readonly #lines: LineReader;
  /** A read that a timed-out {@linkcode next} left running; the next call takes it over. */
  #reading: Promise<string | undefined> | undefined;
  /** Every frame received so far, in order. */
  readonly received: ServerFrame[] = [];
  #closed = false;

  private constructor(conn: Connection) {
    this.conn = conn;
    this.#lines = new LineReader(conn.source, { maxFrameBytes: 1 << 24 });
  }

  /** Connect to a test server with the test CA. */
  static async connect(
    port: number,
    options: { cert?: CertifiedKey; ca?: string } = {},
  ): Promise<TestClient> {
    const p = await testPki();
    const conn = await connect({
      hostname: "localhost",
      port,
      caCerts: [options.ca ?? p.ca.cert],
      ...(options.cert ? { cert: options.cert.cert, key: options.cert.key } : {}),
    });
    return new TestClient(conn);
  }

  /** Send a frame. */
  async send(frame: ClientFrame): Promise<void> {
    await this.conn.sink.write(encodeFrame(frame));
  }

  /** Send raw bytes. */
  async sendRaw(bytes: Uint8Array | string): Promise<void> {
    await this.conn.sink.write(
      typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes,
    );
  }

  /** The next frame, or undefined at end of stream. */
  async next(ms = WAIT_MS): Promise<ServerFrame | undefined> {
    this.#reading ??= this.#lines.next().finally(() => this.#reading = undefined);
    const line = await within(this.#reading, ms, "a frame");
    if (line === undefined) return undefined;
    const frame = parseServerFrame(line);
    this.received.push(frame);
    return frame;
  }

  /** Read until a frame matches; returns it. Throws at end of stream. */
  async until<T extends ServerFrame>(
    match: (f: ServerFrame) => f is T,
    ms?: number,
  ): Promise<T>;
  async until(
    match: (f: ServerFrame) => boolean,
    ms?: number,
  ): Promise<ServerFrame>;
  async until(
    match: (f: ServerFrame) => boolean,
    ms = WAIT_MS,
  ): Promise<ServerFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (frame === undefined) {
        throw new Error("Stream ended before the expected frame");
      }
      if (match(frame)) return frame;
    }
  }

  /** Read until the server closes; returns the frames seen. */
  async untilClosed(ms = WAIT_MS): Promise<ServerFrame[]> {
    const seen: ServerFrame[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      let frame: ServerFrame | undefined;
      try {
        frame = await this.next(Math.max(1, deadline - Date.now()));
      } catch (error) {
        if (error instanceof Error && error.message.startsWith("Timed out")) {
          throw error;
        }
        return seen; // reset by peer counts as closed
      }
      if (frame === undefined) return seen;
      seen.push(frame);
    }
  }

  /**
   * hello + login; resolves with the welcome, failure or goodbye frame, or
   * rejects when the answer takes longer than `ms`.
   */
  async login(username: string, password: string, ms = WAIT_MS): Promise<ServerFrame> {
    await this.send({ type: "hello", version: 1 });
    await this.until((f) => f.type === "auth", ms);
    await this.send({ type: "login", username, password });
    return await this.until(
      (f) => f.type === "welcome" || f.type === "auth_failed" || f.type === "bye",
      ms,
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
    await this.#lines.cancel();
  }
}
