/**
 * A bounded, coalescing write queue for one connection: frames queued in the
 * same tick (or while a write is in flight) go out as one write, and a peer
 * that stops reading overflows the bound instead of growing memory.
 *
 * @module
 */

/** The default bound on bytes queued for one connection: 1 MiB. */
export const DEFAULT_OUTBOX_BYTES = 1024 * 1024;

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /** Most bytes queued or in flight. @default {DEFAULT_OUTBOX_BYTES} */
  maxBytes?: number;
  /** Called once when a push would pass `maxBytes`; the outbox is closed. */
  onOverflow?: () => void;
  /** Called once when a write fails (the peer went away). */
  onError?: (error: unknown) => void;
}

/** A bounded, coalescing queue in front of a `WritableStream`. */
export class Outbox {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #maxBytes: number;
  readonly #onOverflow: (() => void) | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  #queue: Uint8Array[] = [];
  #bytes = 0;
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #closed = false;

  /**
   * @param writable Where bytes go; the outbox takes its writer.
   * @param options Bound and callbacks.
   */
  constructor(
    writable: WritableStream<Uint8Array>,
    options: OutboxOptions = {},
  ) {
    this.#writer = writable.getWriter();
    this.#maxBytes = options.maxBytes ?? DEFAULT_OUTBOX_BYTES;
    this.#onOverflow = options.onOverflow;
    this.#onError = options.onError;
  }

  /** Bytes queued or being written. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Whether the outbox refuses further pushes. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queue one frame. Never blocks.
   *
   * @param bytes The frame; not copied, so do not mutate it afterwards.
   * @returns False when the outbox is closed or this push overflowed it.
   */
  push(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#bytes + bytes.length > this.#maxBytes) {
      this.#closed = true;
      this.#queue = [];
      this.#onOverflow?.();
      return false;
    }
    this.#queue.push(bytes);
    this.#bytes += bytes.length;
    if (!this.#scheduled && this.#flushing === undefined) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#startFlush();
      });
    }
    return true;
  }

  #startFlush(): void {
    if (this.#flushing !== undefined || this.#queue.length === 0) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const chunk = batch.length === 1 ? batch[0]! : concat(batch);
      try {
        await this.#writer.write(chunk);
      } catch (error) {
        this.#closed = true;
        this.#queue = [];
        this.#bytes = 0;
        this.#onError?.(error);
        return;
      }
      this.#bytes -= chunk.length;
    }
  }

  /**
   * Send what is queued (plus `last`, if given, even past the bound), then
   * close the stream. Gives up after `timeoutMs` so a stalled peer cannot
   * hold the caller.
   *
   * @param last A final frame, e.g. a goodbye.
   * @param timeoutMs Longest wait for the queue to drain.
   */
  async close(last?: Uint8Array, timeoutMs = 2000): Promise<void> {
    const wasClosed = this.#closed;
    this.#closed = true;
    if (last && !wasClosed) {
      this.#queue.push(last);
      this.#bytes += last.length;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.#drainThenClose(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #drainThenClose(): Promise<void> {
    await this.#flushing;
    this.#startFlush();
    await this.#flushing;
    await this.#writer.close().catch(() => undefined); // peer may be gone
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
