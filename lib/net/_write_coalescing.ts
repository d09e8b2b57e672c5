/**
 * Adaptive write coalescing for a server's connections: a connection that
 * has not written for a window writes at once; one that is busy gathers what
 * comes in the next window (or up to a size) into one write, so a stream of
 * small deliveries becomes one TLS record and one `write` instead of one
 * each. One timer per {@linkcode WriteCoalescing} serves every connection.
 *
 * The window adapts to the load: each time the timer fires, the next window
 * is made long enough that the busy connections it flushed, each writing
 * once a window, write about `writesPerSecond` times a second together
 * (a write through node:tls costs about the same below a few KiB, so the
 * server's CPU for writes stays near a budget however many connections are
 * busy), within `windowMs` and `maxWindowMs`. A few busy connections keep
 * the short window; a quiet connection still writes at once.
 *
 * The timer is only the fallback for a server that went quiet: on Deno
 * 2.9.6 timers fire late, tens of ms, while sockets keep the event loop
 * busy, so every write on any connection first flushes what is past its
 * window. Under load there is always a next write; when there is none the
 * timer fires on time.
 *
 * A raw sink with `writeParts` (SocketChannel on node:tls) gets the gathered
 * parts as they are and joins them natively; any other gets them joined once.
 *
 * The bound stays where it was: a sink gathers less than `maxBytes`, and
 * while the connection's own sink is full it answers every write with a
 * promise, so it holds at most one write more and the caller (the outbox)
 * keeps the rest under its own memory bounds.
 *
 * @module
 */
import type { ByteSink } from "../wire/byte_channel.ts";
import { concatBytes } from "../util/bytes.ts";
import { type Clock, systemClock, type TimerId } from "../util/clock.ts";

/** How long a busy connection gathers writes, ms. */
export const DEFAULT_COALESCE_MS = 2;

/** The longest window a busy server stretches to, ms (equal to the window: stretching is opt-in, `--write-coalesce-max-ms`). */
export const DEFAULT_MAX_COALESCE_MS = 2;

/** Writes a second that the busy connections together aim for: ~10 % of a core at ~10 µs each. */
export const DEFAULT_COALESCE_WRITES_PER_SECOND = 10_000;

/** Gathered bytes that are written at once, without waiting for the window: one TLS record. */
export const DEFAULT_COALESCE_BYTES = 16 * 1024;

/** Options for {@linkcode WriteCoalescing}. */
export interface WriteCoalescingOptions {
  /**
   * How long a connection that wrote less than this ago gathers further
   * writes; 0 turns coalescing off. @default {DEFAULT_COALESCE_MS}
   */
  windowMs?: number;
  /**
   * The longest window, reached when many connections are busy; at most
   * `windowMs` turns adapting off. @default {DEFAULT_MAX_COALESCE_MS}
   */
  maxWindowMs?: number;
  /**
   * The write rate of the busy connections together that the window is
   * stretched to keep. @default {DEFAULT_COALESCE_WRITES_PER_SECOND}
   */
  writesPerSecond?: number;
  /** Gathered bytes that go out at once. @default {DEFAULT_COALESCE_BYTES} */
  maxBytes?: number;
  /** The time and the one timer. @default systemClock */
  clock?: Clock;
}

/**
 * Coalesces the writes of many connections on one timer.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { WriteCoalescing } from "./_write_coalescing.ts";
 * const writes: Uint8Array[] = [];
 * const sink = new WriteCoalescing({ windowMs: 0 }).wrap({
 *   write: (bytes) => void writes.push(bytes),
 *   close: () => Promise.resolve(),
 * });
 * sink.write(new Uint8Array([1]));
 * strictEqual(writes.length, 1);
 * ```
 */
export class WriteCoalescing {
  readonly #minWindowMs: number;
  readonly #maxWindowMs: number;
  readonly #writesPerSecond: number;
  #windowMs: number;
  readonly #maxBytes: number;
  readonly #clock: Clock;
  #due = new Set<CoalescingSink>();
  #timer: TimerId | undefined;
  /** When the current window ends (the timer's time). */
  #dueAt = Number.POSITIVE_INFINITY;

  /** @param options Window, size and clock. */
  constructor(options: WriteCoalescingOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_COALESCE_MS;
    const maxBytes = options.maxBytes ?? DEFAULT_COALESCE_BYTES;
    if (!(windowMs >= 0) || !Number.isFinite(windowMs)) {
      throw new RangeError(`Cannot coalesce writes: window ${windowMs} ms is not a time`);
    }
    const maxWindowMs = Math.max(windowMs, options.maxWindowMs ?? DEFAULT_MAX_COALESCE_MS);
    if (!Number.isFinite(maxWindowMs)) {
      throw new RangeError(`Cannot coalesce writes: window ${maxWindowMs} ms is not a time`);
    }
    const writesPerSecond = options.writesPerSecond ?? DEFAULT_COALESCE_WRITES_PER_SECOND;
    if (!(writesPerSecond > 0) || !Number.isFinite(writesPerSecond)) {
      throw new RangeError(`Cannot coalesce writes: ${writesPerSecond} writes/s is not a rate`);
    }
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`Cannot coalesce writes: ${maxBytes} bytes is not a positive size`);
    }
    this.#minWindowMs = windowMs;
    this.#maxWindowMs = maxWindowMs;
    this.#writesPerSecond = writesPerSecond;
    this.#windowMs = windowMs;
    this.#maxBytes = maxBytes;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * A sink that coalesces writes in front of `raw`.
   *
   * @param raw The connection's own sink; its `write` returns a promise when
   *   it cannot take more for now.
   * @returns The coalescing sink.
   */
  wrap(raw: ByteSink): ByteSink {
    if (this.#windowMs === 0) return raw;
    return new CoalescingSink(raw, this, this.#maxBytes);
  }

  /**
   * The current window, ms: how long a connection that wrote less than this
   * ago gathers its writes.
   */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** @internal The time now. */
  now(): number {
    return this.#clock.now();
  }

  /** @internal Flush `sink` when the current window ends. */
  schedule(sink: CoalescingSink): void {
    this.#due.add(sink);
    if (this.#timer !== undefined) return;
    this.#dueAt = this.#clock.now() + this.#windowMs;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), this.#windowMs);
  }

  /** @internal Flush now what waits past its window, if the timer is late. */
  poll(now: number): void {
    if (now < this.#dueAt) return;
    this.#clock.clearTimeout(this.#timer);
    this.#fire();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#dueAt = Number.POSITIVE_INFINITY;
    const due = this.#due;
    this.#due = new Set();
    for (const sink of due) sink.flush();
    // Each connection due now writes about once a window while it stays busy.
    const wanted = (1000 * due.size) / this.#writesPerSecond;
    this.#windowMs = Math.min(this.#maxWindowMs, Math.max(this.#minWindowMs, wanted));
  }
}

/** One connection's coalescing sink. */
class CoalescingSink implements ByteSink {
  readonly #raw: ByteSink;
  readonly #group: WriteCoalescing;
  readonly #maxBytes: number;
  #pending: Uint8Array[] | undefined;
  #pendingBytes = 0;
  /** A write `raw` has not finished taking. */
  #inflight: Promise<void> | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #failure: unknown;
  #failed = false;

  constructor(raw: ByteSink, group: WriteCoalescing, maxBytes: number) {
    this.#raw = raw;
    this.#group = group;
    this.#maxBytes = maxBytes;
  }

  write(bytes: Uint8Array): Promise<void> | undefined {
    return this.writeParts([bytes], bytes.length);
  }

  /**
   * Like {@linkcode write} of `parts` joined: they are gathered as they are
   * and joined once, when they are written (a single part is not copied).
   */
  writeParts(parts: readonly Uint8Array[], size: number): Promise<void> | undefined {
    if (this.#failed) return Promise.reject(this.#failure);
    const now = this.#group.now();
    // Any write is a chance to flush what the (late) timer has not.
    this.#group.poll(now);
    if (this.#inflight === undefined && size >= this.#maxBytes) {
      // A record's worth already: waiting gains nothing, and gathering it
      // would only copy it again. What was gathered goes first.
      this.flush();
      if (this.#inflight === undefined && !this.#failed) this.#send(parts, size, now);
      else this.#gather(parts, size);
    } else if (
      this.#inflight === undefined && this.#pendingBytes === 0 &&
      now - this.#lastWriteAt >= this.#group.windowMs
    ) {
      // Quiet connection: no reason to wait.
      this.#send(parts, size, now);
    } else {
      this.#gather(parts, size);
      if (this.#inflight === undefined) {
        if (this.#pendingBytes >= this.#maxBytes) this.flush();
        else this.#group.schedule(this);
      }
    }
    if (this.#failed) return Promise.reject(this.#failure);
    // While the raw sink is full the writer waits: what it pushes meanwhile
    // stays in its own bounded queue, not here.
    return this.#inflight !== undefined ? this.#settled() : undefined;
  }

  #gather(parts: readonly Uint8Array[], size: number): void {
    const pending = this.#pending ??= [];
    for (const part of parts) pending.push(part);
    this.#pendingBytes += size;
  }

  /** Write what was gathered, unless a write is still in flight (it flushes when done). */
  flush(): void {
    if (this.#inflight !== undefined || this.#pending === undefined || this.#failed) return;
    const parts = this.#pending;
    const size = this.#pendingBytes;
    this.#pending = undefined;
    this.#pendingBytes = 0;
    this.#send(parts, size, this.#group.now());
  }

  /** One write of `parts`: as they are when `raw` takes parts, else joined once. */
  #send(parts: readonly Uint8Array[], size: number, now: number): void {
    this.#lastWriteAt = now;
    const raw = this.#raw;
    let pending: Promise<void> | undefined;
    try {
      pending = raw.writeParts !== undefined && parts.length > 1
        ? raw.writeParts(parts, size)
        : raw.write(joined(parts, size));
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (pending === undefined) return;
    const inflight: Promise<void> = pending.then(() => {
      if (this.#inflight === inflight) this.#inflight = undefined;
      // The raw sink was full: the window has passed meanwhile.
      this.flush();
    }, (error) => {
      if (this.#inflight === inflight) this.#inflight = undefined;
      this.#fail(error);
    });
    this.#inflight = inflight;
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.#failure = error;
    this.#pending = undefined;
    this.#pendingBytes = 0;
  }

  /** Resolves once nothing is in flight, or rejects with the write's failure. */
  async #settled(): Promise<void> {
    while (this.#inflight !== undefined) await this.#inflight;
    if (this.#failed) throw this.#failure;
  }

  async close(): Promise<void> {
    while (this.#inflight !== undefined || this.#pending !== undefined) {
      if (this.#failed) break;
      if (this.#inflight === undefined) this.flush();
      if (this.#inflight !== undefined) await this.#inflight;
    }
    await this.#raw.close();
  }
}

/** `parts` as one buffer: the only part itself, or a copy of them all. */
function joined(parts: readonly Uint8Array[], size: number): Uint8Array {
  return parts.length === 1 ? parts[0]! : concatBytes(parts, size);
}
