/**
 * A minimal WebSocket client over a TLS connection, for the load generator
 * ("browsers-worth" of clients without a browser): the HTTP upgrade, then
 * each `\n`-ended line written goes out as one masked text frame, and each
 * text frame received comes back as its bytes plus `\n`, so the worker's
 * line parser reads WebSocket and TLS clients alike. Masks are all-zero
 * keys (legal, and the payload needs no copy); pings are answered.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The part of a connection the worker uses. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * Upgrade `conn` to a WebSocket on `/ws` and wrap it.
 *
 * @param conn A handshaken TLS connection to the web port.
 * @param host `host:port` for the Host and Origin headers.
 * @returns A connection that reads and writes lines.
 * @throws {Error} "Cannot open WebSocket: ..." when the answer is not 101.
 */
export async function openWebSocket(conn: Deno.TlsConn, host: string): Promise<ByteConn> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    encoder.encode(
      `GET /ws HTTP/1.1\r\nHost: ${host}\r\nOrigin: https://${host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  let head: Uint8Array = new Uint8Array(0);
  let end = -1;
  while (end === -1) {
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    if (n === null) throw new Error("Cannot open WebSocket: closed during the upgrade");
    head = concat(head, buf.subarray(0, n));
    end = findHeaderEnd(head);
  }
  const status = decoder.decode(head.subarray(0, end)).split("\r\n")[0] ?? "";
  if (!status.includes(" 101 ")) throw new Error(`Cannot open WebSocket: ${status}`);
  return new WebSocketLines(conn, head.slice(end + 4));
}

class WebSocketLines implements ByteConn {
  readonly #conn: Deno.TlsConn;
  #raw: Uint8Array;
  #out: Uint8Array = new Uint8Array(0);
  #closed = false;

  constructor(conn: Deno.TlsConn, rest: Uint8Array) {
    this.#conn = conn;
    this.#raw = rest;
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#out.length === 0) {
      if (this.#closed) return null;
      if (!this.#decode()) {
        const buf = new Uint8Array(64 * 1024);
        const n = await this.#conn.read(buf);
        if (n === null) return null;
        this.#raw = this.#raw.length === 0
          ? buf.subarray(0, n)
          : concat(this.#raw, buf.subarray(0, n));
      }
    }
    const n = Math.min(p.length, this.#out.length);
    p.set(this.#out.subarray(0, n));
    this.#out = this.#out.subarray(n);
    return n;
  }

  /** Decode every whole frame held; false when none was. */
  #decode(): boolean {
    const parts: Uint8Array[] = [];
    let at = 0;
    const raw = this.#raw;
    for (;;) {
      if (raw.length - at < 2) break;
      const opcode = raw[at]! & 0x0f;
      let len = raw[at + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (raw.length - at < 4) break;
        len = (raw[at + 2]! << 8) | raw[at + 3]!;
        head = 4;
      } else if (len === 127) {
        if (raw.length - at < 10) break;
        len = Number(new DataView(raw.buffer, raw.byteOffset + at + 2, 8).getBigUint64(0));
        head = 10;
      }
      if (raw.length - at < head + len) break;
      const payload = raw.subarray(at + head, at + head + len);
      at += head + len;
      if (opcode === 0x1) parts.push(payload, NEWLINE);
      else if (opcode === 0x9) void this.#frame(0xa, payload);
      else if (opcode === 0x8) {
        // The server closes: answer, and end the input once what came before is read.
        void this.#frame(0x8, payload.subarray(0, 2)).catch(() => undefined);
        this.#closed = true;
      }
    }
    if (at === 0) return false;
    this.#raw = raw.subarray(at);
    this.#out = parts.length === 0 ? this.#out : concat(this.#out, concatAll(parts));
    return true;
  }

  async write(p: Uint8Array): Promise<number> {
    const frames: Uint8Array[] = [];
    let start = 0;
    for (let nl = p.indexOf(0x0a); nl !== -1; nl = p.indexOf(0x0a, start)) {
      frames.push(frameHead(0x1, nl - start), p.subarray(start, nl));
      start = nl + 1;
    }
    await writeAll(this.#conn, concatAll(frames));
    return p.length;
  }

  async #frame(opcode: number, payload: Uint8Array): Promise<void> {
    await writeAll(this.#conn, concat(frameHead(opcode, payload.length), payload));
  }

  close(): void {
    this.#conn.close();
  }
}

const NEWLINE = new Uint8Array([0x0a]);

/** A final, masked frame's header with an all-zero masking key. */
function frameHead(opcode: number, length: number): Uint8Array {
  if (length < 126) return new Uint8Array([0x80 | opcode, 0x80 | length, 0, 0, 0, 0]);
  if (length < 65536) {
    return new Uint8Array([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0]);
  }
  const head = new Uint8Array(14);
  head[0] = 0x80 | opcode;
  head[1] = 0x80 | 127;
  new DataView(head.buffer).setBigUint64(2, BigInt(length));
  return head;
}

function findHeaderEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

async function writeAll(conn: Deno.TlsConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
