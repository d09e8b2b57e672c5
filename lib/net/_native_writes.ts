/**
 * Writes straight onto a node:tls socket's native handle (Deno 2.9.6's
 * `TLSWrap`), past the node stream machinery: `socket.write()` costs a
 * `Writable` state update, a Buffer view, a `WriteWrap` and its async id, and
 * a completion through four callbacks per write, and a caller that gathered
 * parts had to join them in JS (a new ArrayBuffer per write). Here a write is
 * one call of the handle's `writeBuffer` (one part) or `writev` (several,
 * joined in Rust), with one completion callback. Measured in
 * bench/RESULTS.md, "Round 2f".
 *
 * Only used when the handle has that shape ({@linkcode nativeWrites}); the
 * public `socket.write` stays the fallback. Like node's own stream, it keeps
 * one write in flight at the handle (the handle has one completion slot) and
 * gathers what comes meanwhile as parts, sent as one `writev` when the write
 * completes, so nothing is reordered. The bound is the socket's
 * `writableHighWaterMark`: above it a write answers with a promise that
 * settles once everything is out, the same contract as `socket.write`
 * returning false.
 *
 * @module
 */
import type { Socket } from "node:net";

/** What the handle calls back when a write is out (`status` < 0: it failed). */
interface WriteRequest {
  oncomplete(status: number): void;
}

/** The native entry points used; both copy the bytes before they return. */
interface NativeHandle {
  writeBuffer(req: WriteRequest, bytes: Uint8Array): number;
  writev(req: WriteRequest, parts: readonly Uint8Array[], allBuffers: true): number;
}

/** What {@linkcode NativeWrites.writeParts} answers when the handle refused the call itself. */
export const NOT_NATIVE: unique symbol = Symbol("not native");

/**
 * Native writes for `socket`, when its handle offers them and nothing is
 * pending in the socket's own stream (so the two paths cannot reorder).
 *
 * @param socket A connected, handshaken node:tls socket.
 * @returns The writer, or undefined: use `socket.write`.
 */
export function nativeWrites(socket: Socket): NativeWrites | undefined {
  const handle: unknown = (socket as Socket & { _handle?: unknown })._handle;
  if (typeof handle !== "object" || handle === null) return undefined;
  const candidate = handle as Partial<NativeHandle>;
  if (typeof candidate.writeBuffer !== "function" || typeof candidate.writev !== "function") {
    return undefined;
  }
  if (socket.writableLength !== 0 || socket.destroyed) return undefined;
  return new NativeWrites(socket, handle as NativeHandle);
}

/** One socket's writes onto its native handle, one in flight. */
export class NativeWrites {
  readonly #socket: Socket;
  readonly #handle: NativeHandle;
  readonly #highWaterMark: number;
  /** The request of the write in flight: a completion of any other is ignored. */
  #request: WriteRequest | undefined;
  #inflightBytes = 0;
  #inflight = false;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /**
   * Memory the queued parts keep alive: a part that is a view (an outbox
   * chunk's frames) holds its whole buffer until it is written, so each
   * buffer counts in full, once for a run of views of it. The high-water
   * mark bounds this, not the parts' own bytes.
   */
  #queuedMemory = 0;
  #lastQueuedBuffer: ArrayBufferLike | undefined;
  /** Settles once nothing is in flight or queued (or the socket failed). */
  #drained: PromiseWithResolvers<void> | undefined;
  #failure: Error | undefined;
  /** No write was made yet: a refused first call may still go the public way. */
  #untried = true;

  /**
   * @param socket The socket (destroyed with the error on a failed write; it
   *   must have an "error" listener).
   * @param handle Its native handle.
   */
  constructor(socket: Socket, handle: NativeHandle) {
    this.#socket = socket;
    this.#handle = handle;
    this.#highWaterMark = socket.writableHighWaterMark;
  }

  /**
   * Send `parts` in order (`size` bytes in all); they are not copied and
   * must not change until the write completed.
   *
   * @returns undefined while under the high-water mark; else a promise that
   *   settles once everything is out (rejects if the socket failed first);
   *   {@linkcode NOT_NATIVE} when the very first call was refused by the
   *   handle (nothing was written: use the public path).
   */
  writeParts(
    parts: readonly Uint8Array[],
    size: number,
  ): Promise<void> | undefined | typeof NOT_NATIVE {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#socket.destroyed) return Promise.reject(this.fail());
    if (this.#inflight) {
      for (const part of parts) {
        this.#queue.push(part);
        if (part.buffer !== this.#lastQueuedBuffer) {
          this.#lastQueuedBuffer = part.buffer;
          this.#queuedMemory += Math.max(part.buffer.byteLength, part.byteLength);
        }
      }
      this.#queuedBytes += size;
    } else if (!this.#send(parts, size)) {
      return NOT_NATIVE;
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    // What is in flight was copied by the handle: its own bytes count.
    if (this.#inflightBytes + this.#queuedMemory < this.#highWaterMark) return undefined;
    return this.#waitDrained();
  }

  /** Resolves once everything written so far is out (or the socket failed). */
  flushed(): Promise<void> {
    if (!this.#inflight || this.#failure !== undefined) return Promise.resolve();
    return this.#waitDrained().catch(() => undefined);
  }

  /**
   * The socket closed or broke: what waits is rejected, later writes too.
   *
   * @param error What to reject with. @default a BrokenPipe "socket closed"
   * @returns The failure now recorded (the first one).
   */
  fail(error?: Error): Error {
    this.#failure ??= error ?? new Deno.errors.BrokenPipe("Cannot write: socket closed");
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#queuedMemory = 0;
    this.#lastQueuedBuffer = undefined;
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.reject(this.#failure);
    return this.#failure;
  }

  #waitDrained(): Promise<void> {
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  /** Hand `parts` to the handle; false when a first call was refused (nothing sent). */
  #send(parts: readonly Uint8Array[], size: number): boolean {
    this.#inflight = true;
    this.#inflightBytes = size;
    // A request per write, as node makes: a completion called twice, or
    // late for a write already given up, cannot end the next one.
    const request: WriteRequest = {
      oncomplete: (status) => {
        if (this.#request !== request) return;
        this.#request = undefined;
        this.#complete(status);
      },
    };
    this.#request = request;
    let status: number;
    try {
      status = parts.length === 1
        ? this.#handle.writeBuffer(request, parts[0]!)
        : this.#handle.writev(request, parts, true);
    } catch (error) {
      this.#request = undefined;
      this.#inflight = false;
      this.#inflightBytes = 0;
      if (this.#untried) return false;
      this.#broken(error instanceof Error ? error : new Error(String(error)));
      return true;
    }
    this.#untried = false;
    if (status !== 0) {
      this.#request = undefined;
      this.#inflight = false;
      this.#inflightBytes = 0;
      this.#broken(new Deno.errors.BrokenPipe(`Cannot write: the socket refused it (${status})`));
    }
    return true;
  }

  #complete(status: number): void {
    this.#inflight = false;
    this.#inflightBytes = 0;
    if (this.#failure !== undefined) return;
    if (status < 0) {
      this.#broken(new Deno.errors.BrokenPipe(`Cannot write: the write failed (${status})`));
      return;
    }
    if (this.#queue.length > 0) {
      const parts = this.#queue;
      const size = this.#queuedBytes;
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#queuedMemory = 0;
      this.#lastQueuedBuffer = undefined;
      this.#send(parts, size);
      return;
    }
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.resolve();
  }

  /** A write failed: fail what waits and destroy the socket with it (its reader sees the error). */
  #broken(error: Error): void {
    this.fail(error);
    this.#socket.destroy(error);
  }
}
