/**
 * A bounded, coalescing write queue for one connection's byte sink: frames
 * queued in the same tick (or while a write is in flight) go out as one
 * write, and a peer that stops reading overflows the bound instead of growing
 * memory.
 *
 * @module
 */
import type { ByteSink } from "../wire/byte_channel.ts";
import { concatBytes } from "../util/bytes.ts";
import { systemClock, type TimerId, type Timers } from "../util/clock.ts";

/** The default bound on bytes queued for one connection: 1 MiB. */
export const DEFAULT_OUTBOX_BYTES = 1024 * 1024;

/** Most bytes handed to the sink in one write. */
const MAX_WRITE_BYTES = 64 * 1024;

/** How long a queue may stay over `maxBytes` before the peer is dropped. */
export const DEFAULT_STALL_MS = 5000;

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /**
   * Soft bound on bytes queued or in flight: a queue may pass it during a
   * burst, but must come back under it within `stallMs`.
   * @default {DEFAULT_OUTBOX_BYTES}
   */
  maxBytes?: number;
  /** How long the queue may stay over `maxBytes`. @default {DEFAULT_STALL_MS} */
  stallMs?: number;
  /** Runs the stall timer and the `close` deadline. @default systemClock */
  clock?: Timers;
  /** Hard bound: passing it overflows at once. @default 4 × maxBytes */
  hardMaxBytes?: number;
  /**
   * Called once when the queue passes the hard bound or stays over the soft
   * one for `stallMs`; the outbox is then closed and its queue dropped.
   */
  onOverflow?: () => void;
  /** Called once when a write fails (the peer went away). */
  onError?: (error: unknown) => void;
  /**
   * Runs before each write: e.g. commit the history, so no peer hears of a
   * message that a crash could still lose. Must not throw.
   */
  beforeWrite?: () => void;
}

/** A bounded, coalescing queue in front of a {@linkcode ByteSink}. */
export class Outbox {
  readonly #sink: ByteSink;
  readonly #maxBytes: number;
  readonly #hardMaxBytes: number;
  readonly #stallMs: number;
  readonly #clock: Timers;
  readonly #onOverflow: (() => void) | undefined;
  readonly #beforeWrite: (() => void) | undefined;
  #stallTimer: TimerId | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  #queue: Uint8Array[] = [];
  #bytes = 0;
  #scheduled = false;
  /** A flush loop is running (set before it starts, cleared as it ends). */
  #flushing = false;
  /** The latest flush loop, for close() to wait on. */
  #flushed: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * @param sink Where bytes go (`streamSink` in lib/byte_channel.ts adapts a stream).
   * @param options Bound and callbacks.
   */
  constructor(sink: ByteSink, options: OutboxOptions = {}) {
    this.#sink = sink;
    this.#maxBytes = options.maxBytes ?? DEFAULT_OUTBOX_BYTES;
    this.#hardMaxBytes = options.hardMaxBytes ?? 4 * this.#maxBytes;
    this.#stallMs = options.stallMs ?? DEFAULT_STALL_MS;
    this.#clock = options.clock ?? systemClock;
    this.#onOverflow = options.onOverflow;
    this.#beforeWrite = options.beforeWrite;
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
    if (this.#bytes + bytes.length > this.#hardMaxBytes) {
      this.#overflow();
      return false;
    }
    this.#queue.push(bytes);
    this.#bytes += bytes.length;
    if (this.#bytes > this.#maxBytes && this.#stallTimer === undefined) {
      this.#stallTimer = this.#clock.setTimeout(() => this.#overflow(), this.#stallMs);
    }
    if (!this.#scheduled && !this.#flushing) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#startFlush();
      });
    }
    return true;
  }

  #overflow(): void {
    this.#clearStall();
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#onOverflow?.();
  }

  #clearStall(): void {
    this.#clock.clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #startFlush(): void {
    if (this.#flushing || this.#queue.length === 0) return;
    // Set before the loop runs: it may finish without awaiting when the sink
    // takes every write at once, and then it clears the flag itself.
    this.#flushing = true;
    this.#flushed = this.#flush();
  }

  async #flush(): Promise<void> {
    // The loop ends on an empty queue and clears #flushing in the same turn:
    // a push from then on starts a new flush. (Clearing it in a later
    // microtask left a window where a frame was queued but nobody wrote it.)
    while (this.#queue.length > 0) {
      // Up to MAX_WRITE_BYTES per write: big enough to coalesce a burst, small
      // enough that one write does not copy a whole backlog.
      let take = 1;
      let size = this.#queue[0]!.length;
      while (
        take < this.#queue.length && size + this.#queue[take]!.length <= MAX_WRITE_BYTES
      ) {
        size += this.#queue[take]!.length;
        take++;
      }
      const batch = take === this.#queue.length ? this.#queue : this.#queue.slice(0, take);
      this.#queue = take === this.#queue.length ? [] : this.#queue.slice(take);
      const chunk = batch.length === 1 ? batch[0]! : concatBytes(batch, size);
      this.#beforeWrite?.();
      try {
        // A sink that took the bytes at once returns nothing: no await, no
        // extra turn per write.
        const pending = this.#sink.write(chunk);
        if (pending) await pending;
      } catch (error) {
        this.#clearStall();
        this.#closed = true;
        this.#queue = [];
        this.#bytes = 0;
        this.#flushing = false;
        this.#onError?.(error);
        return;
      }
      this.#bytes -= chunk.length;
      if (this.#bytes <= this.#maxBytes) this.#clearStall();
    }
    this.#flushing = false;
  }

  /**
   * Send what is queued (plus `last`, if given, even past the bound), then
   * close the stream. Gives up after `timeoutMs` (on the outbox's clock) so a
   * stalled peer cannot hold the caller.
   *
   * @param last A final frame, e.g. a goodbye.
   * @param timeoutMs Longest wait for the queue to drain.
   */
  async close(last?: Uint8Array, timeoutMs = 2000): Promise<void> {
    const wasClosed = this.#closed;
    this.#closed = true;
    this.#clearStall();
    if (last && !wasClosed) {
      this.#queue.push(last);
      this.#bytes += last.length;
    }
    let timer: TimerId | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.#drainThenClose(), deadline]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  async #drainThenClose(): Promise<void> {
    await this.#flushed;
    this.#startFlush();
    await this.#flushed;
    await this.#sink.close();
  }
}
