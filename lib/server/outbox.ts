/**
 * A bounded, coalescing write queue for one connection's byte sink: frames
 * queued in the same tick (or while a write is in flight) go out as one
 * write, and a peer that stops reading overflows the bound instead of growing
 * memory.
 *
 * The bound is on memory, not payload: every buffer the queue holds is
 * charged {@linkcode FRAME_OVERHEAD_BYTES} on top of its bytes, and small
 * frames are copied into shared chunks so that a flood of tiny frames (pongs,
 * joins) costs about its bytes, not a buffer each.
 *
 * @module
 */
import type { ByteSink } from "../wire/byte_channel.ts";
import { concatBytes } from "../util/bytes.ts";
import { systemClock, type TimerId, type Timers } from "../util/clock.ts";
import type { FlushBatch } from "./flush_batch.ts";
import type { DeferredFlushes } from "./deferred_flushes.ts";

/** The default bound on bytes queued for one connection: 1 MiB. */
export const DEFAULT_OUTBOX_BYTES = 1024 * 1024;

/** What a flush that wrote without waiting leaves for `close` to wait on. */
const DONE: Promise<void> = Promise.resolve();

/** Most bytes handed to the sink in one write. */
const MAX_WRITE_BYTES = 64 * 1024;

/** How long a queue may stay over `maxBytes` before the peer is dropped. */
export const DEFAULT_STALL_MS = 5000;

/**
 * What one queued buffer costs beyond its bytes, charged per buffer held.
 * Measured on Deno 2.9.6 (V8 15.0): a million 23-byte `Uint8Array`s from
 * `TextEncoder.encode` grew the resident set by 446 to 479 bytes each
 * (typed array, array buffer and backing-store bookkeeping); rounded up.
 */
export const FRAME_OVERHEAD_BYTES = 512;

/** Frames up to this size are copied into a shared chunk, not queued alone. */
export const SMALL_FRAME_BYTES = 256;

/** Capacity of a shared chunk; it is charged in full, used or not. */
export const CHUNK_BYTES = 4096;

/**
 * Capacity of the further chunks of a backlog that filled one, until the
 * queue drains: a sustained backlog allocates a quarter of the chunks (each
 * `new Uint8Array` of a chunk cost ~2.6 µs of CPU, 11 % of the server's busy
 * samples at paced 40 and in a burst), and it is one TLS record's worth.
 */
export const BACKLOG_CHUNK_BYTES = 16 * 1024;

/**
 * Small frames held as they are (in one turn, or behind a write in flight)
 * before further ones go into a chunk: below this, their charges (bytes
 * plus overhead each) stay under a chunk's.
 */
export const GATHER_FRAMES = 8;

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /**
   * Soft bound on bytes charged for what is queued or in flight: a queue may
   * pass it during a burst, but must come back under it within `stallMs`.
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
  /**
   * Shared by the outboxes of one server: the flushes of every outbox pushed
   * to in a turn start from one microtask. @default one microtask per outbox
   */
  flushes?: FlushBatch;
  /**
   * Where frames pushed with {@linkcode Outbox.pushDeferred} wait while the
   * connection is busy. @default none: such frames go out like any other
   */
  deferrals?: DeferredFlushes;
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
  readonly #flushes: FlushBatch | undefined;
  readonly #deferrals: DeferredFlushes | undefined;
  /** Frames are held for the deferrals' window. */
  #deferred = false;
  /** When this outbox last handed bytes to its sink, on the deferrals' clock. */
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  readonly #deferredFlush = () => {
    this.#deferred = false;
    if (!this.#closed) this.#schedule();
  };
  readonly #scheduledFlush = () => {
    this.#scheduled = false;
    this.#startFlush();
  };
  #stallTimer: TimerId | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  /** Buffers to write, in order; `#charges[i]` is what `#queue[i]` costs. */
  #queue: Uint8Array[] = [];
  #charges: number[] = [];
  /**
   * The chunk small frames are copied into; it follows the queue. A flush
   * takes what was copied since the last one (`#openStart` to `#openUsed`) as
   * a view and the chunk fills on behind it, so a backlog's frames share one
   * chunk across writes until it is full; it is let go when the queue drains.
   */
  #open: Uint8Array | undefined;
  #openStart = 0;
  #openUsed = 0;
  /** Capacity of the next chunk: {@linkcode BACKLOG_CHUNK_BYTES} once a backlog filled one. */
  #chunkBytes = CHUNK_BYTES;
  /** The open chunk's last view on the queue (or handed to the sink). */
  #lastView: Uint8Array | undefined;
  /** What the write in flight releases when it is done. */
  #inflightCharge = 0;
  /** Small frames held as they are at the queue's end, until the flush joins them. */
  #gathered: Uint8Array[] = [];
  #gatheredBytes = 0;
  /** What the gathered frames are charged: each its bytes and overhead. */
  #gatheredCharge = 0;
  /** Per slot, the last frame pushed with {@linkcode pushLatest}. */
  readonly #latest = new Map<string, Uint8Array>();
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
    this.#flushes = options.flushes;
    this.#deferrals = options.deferrals;
    this.#onError = options.onError;
  }

  /**
   * Bytes charged for what is queued or being written: each buffer's bytes
   * plus {@linkcode FRAME_OVERHEAD_BYTES} (a shared chunk counts its whole
   * capacity).
   */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Buffers held: queued, in a shared chunk being filled, not yet taken by a write. */
  get queuedBuffers(): number {
    return this.#queue.length + this.#gathered.length + (this.#openUsed > this.#openStart ? 1 : 0);
  }

  /** Whether the outbox refuses further pushes. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queue one frame. Never blocks.
   *
   * @param bytes The frame; it may be held as it is until written, so do not mutate it afterwards.
   * @returns False when the outbox is closed or this push overflowed it.
   */
  push(bytes: Uint8Array): boolean {
    if (!this.#enqueue(bytes)) return false;
    this.#schedule();
    return true;
  }

  /**
   * Queue a frame nobody waits on (a join, a leave, a presence change): on
   * a connection that wrote less than the deferrals' window ago, it waits
   * (charged like any frame) until that window ends or another frame is
   * pushed, so a busy connection gets one write per window, not one per
   * frame. A quiet connection writes it at once. Order is kept.
   *
   * @param bytes The frame; as for {@linkcode push}.
   * @returns False when the outbox is closed or this push overflowed it.
   */
  pushDeferred(bytes: Uint8Array): boolean {
    const deferrals = this.#deferrals;
    if (
      deferrals === undefined || this.#scheduled || this.#flushing ||
      deferrals.now() - this.#lastWriteAt >= deferrals.windowMs
    ) {
      return this.push(bytes);
    }
    if (!this.#enqueue(bytes)) return false;
    if (!this.#deferred) {
      this.#deferred = true;
      deferrals.add(this.#deferredFlush);
    }
    return true;
  }

  /** Hold `bytes` at the queue's end, charged; false when closed or overflowing. */
  #enqueue(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    if (bytes.length > SMALL_FRAME_BYTES) {
      // A big frame is held as it is.
      const charge = bytes.length + FRAME_OVERHEAD_BYTES;
      if (!this.#charge(charge)) return false;
      this.#seal();
      this.#queue.push(bytes);
      this.#charges.push(charge);
    } else if (
      this.#open === undefined && this.#gathered.length < GATHER_FRAMES
    ) {
      // A few small frames (of a turn, or behind a write in flight) are
      // held as they are (a delivery's bytes are shared by all its
      // receivers) and, when written, joined into one buffer of their size
      // or handed to a sink that joins parts as they are: the one frame of
      // a quiet connection is written uncopied, and a handful costs no
      // 4 KiB chunk. (Behind a write in flight they went straight into a
      // new chunk: ~2.6 µs of CPU per write at paced 40, 6 % of the busy
      // samples, for the two or three frames a write usually waits with.)
      const charge = bytes.length + FRAME_OVERHEAD_BYTES;
      if (!this.#charge(charge)) return false;
      this.#gathered.push(bytes);
      this.#gatheredBytes += bytes.length;
      this.#gatheredCharge += charge;
    } else {
      // A backlog (a write in flight, or many frames in one turn): small
      // frames are copied into shared chunks, so a flood of tiny frames
      // costs about its bytes, not a buffer each.
      const open = this.#open;
      const fits = open !== undefined && this.#openUsed + bytes.length <= open.length;
      if (!fits) {
        // A backlog that filled a chunk gets bigger ones until it drains.
        if (open !== undefined) this.#chunkBytes = BACKLOG_CHUNK_BYTES;
        const capacity = this.#chunkBytes;
        if (!this.#charge(capacity + FRAME_OVERHEAD_BYTES)) return false;
        const gathered = open === undefined ? this.#takeGathered() : [];
        this.#seal();
        this.#letGoOfChunk();
        this.#open = new Uint8Array(capacity);
        // A turn's gathered frames go first into the chunk (they always fit):
        // the flush then writes the chunk as it is.
        for (const frame of gathered) {
          this.#open.set(frame, this.#openUsed);
          this.#openUsed += frame.length;
        }
      }
      this.#open!.set(bytes, this.#openUsed);
      this.#openUsed += bytes.length;
    }
    return true;
  }

  /**
   * Queue a frame that supersedes the last one pushed for the same `slot`:
   * if that one is still waiting (not yet handed to the sink) it is dropped,
   * so a slot holds at most one frame, and the new one goes at the end.
   *
   * @param slot What the frame answers, e.g. `"pong"`.
   * @param bytes The frame; not copied.
   * @returns False when the outbox is closed or this push overflowed it.
   */
  pushLatest(slot: string, bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    const charge = bytes.length + FRAME_OVERHEAD_BYTES;
    const older = this.#latest.get(slot);
    const at = older === undefined ? -1 : this.#queue.lastIndexOf(older);
    if (at !== -1) {
      this.#bytes -= this.#charges[at]!;
      if (
        at === this.#queue.length - 1 && this.#openUsed === this.#openStart &&
        this.#gathered.length === 0
      ) {
        // Nothing queued after it: the new frame takes its place.
        this.#queue[at] = bytes;
        this.#charges[at] = charge;
        this.#bytes += charge;
        this.#latest.set(slot, bytes);
        return true;
      }
      this.#queue.splice(at, 1);
      this.#charges.splice(at, 1);
    }
    if (!this.#charge(charge)) return false;
    this.#seal();
    this.#queue.push(bytes);
    this.#charges.push(charge);
    this.#latest.set(slot, bytes);
    this.#schedule();
    return true;
  }

  /** Add `charge` to the queue's cost; false (and overflow) past the hard bound. */
  #charge(charge: number): boolean {
    if (this.#bytes + charge > this.#hardMaxBytes) {
      this.#overflow();
      return false;
    }
    this.#bytes += charge;
    if (this.#bytes > this.#maxBytes && this.#stallTimer === undefined) {
      this.#stallTimer = this.#clock.setTimeout(() => this.#overflow(), this.#stallMs);
    }
    return true;
  }

  /** The gathered frames, no longer held or charged here. */
  #takeGathered(): Uint8Array[] {
    const gathered = this.#gathered;
    this.#bytes -= this.#gatheredCharge;
    this.#gathered = [];
    this.#gatheredBytes = 0;
    this.#gatheredCharge = 0;
    return gathered;
  }

  /**
   * Stop filling the open chunk (its frames are on the queue already): its
   * charge goes with its last view still queued, which is written after
   * every other part of it, else with the write in flight, else (nothing
   * holds the chunk any more) it is released.
   */
  #letGoOfChunk(): void {
    if (this.#open === undefined) return;
    const at = this.#lastView === undefined ? -1 : this.#queue.lastIndexOf(this.#lastView);
    const charge = this.#forgetChunk();
    if (at !== -1) this.#charges[at]! += charge;
    else if (this.#flushing) this.#inflightCharge += charge;
    else this.#bytes -= charge;
  }

  /**
   * Close the open chunk's books (no more frames go into it).
   *
   * @returns What it was charged, for the caller to move or release; 0 when
   *   no chunk was open.
   */
  #forgetChunk(): number {
    if (this.#open === undefined) return 0;
    const charge = this.#open.length + FRAME_OVERHEAD_BYTES;
    this.#open = undefined;
    this.#openStart = 0;
    this.#openUsed = 0;
    this.#lastView = undefined;
    return charge;
  }

  /** Move the gathered frames (joined) or what was copied into the open chunk onto the queue. */
  #seal(): void {
    if (this.#gathered.length > 0) {
      const gathered = this.#gathered;
      if (gathered.length === 1 || this.#sink.writeParts === undefined) {
        this.#queue.push(
          gathered.length === 1 ? gathered[0]! : concatBytes(gathered, this.#gatheredBytes),
        );
        this.#charges.push(this.#gatheredCharge);
      } else {
        // A sink that joins parts itself gets them as they are: one copy per
        // delivery, the sink's, not one here and another there.
        for (const frame of gathered) {
          this.#queue.push(frame);
          this.#charges.push(frame.length + FRAME_OVERHEAD_BYTES);
        }
      }
      gathered.length = 0; // nothing else holds the array: reused, not reallocated per flush
      this.#gatheredBytes = 0;
      this.#gatheredCharge = 0;
    }
    if (this.#open === undefined || this.#openUsed === this.#openStart) return;
    // The chunk stays open and charged; its view is charged nothing of its own.
    this.#lastView = this.#open.subarray(this.#openStart, this.#openUsed);
    this.#queue.push(this.#lastView);
    this.#charges.push(0);
    this.#openStart = this.#openUsed;
  }

  #schedule(): void {
    if (!this.#scheduled && !this.#flushing) {
      this.#scheduled = true;
      if (this.#flushes === undefined) queueMicrotask(this.#scheduledFlush);
      else this.#flushes.add(this.#scheduledFlush);
    }
  }

  #drop(): void {
    this.#gathered = [];
    this.#gatheredBytes = 0;
    this.#gatheredCharge = 0;
    this.#queue = [];
    this.#charges = [];
    this.#forgetChunk();
    this.#chunkBytes = CHUNK_BYTES;
    this.#inflightCharge = 0;
    this.#latest.clear();
  }

  #overflow(): void {
    this.#clearStall();
    if (this.#closed) return;
    this.#closed = true;
    this.#drop();
    this.#onOverflow?.();
  }

  #clearStall(): void {
    this.#clock.clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #startFlush(): void {
    this.#seal();
    if (this.#flushing || this.#queue.length === 0) return;
    // Set before the writes start: they may all be taken at once, and then
    // the flag is cleared before this returns.
    this.#flushing = true;
    const pending = this.#writeQueued();
    this.#flushed = pending === undefined ? DONE : this.#awaitWrites(pending);
  }

  /**
   * Hand the queue to the sink a batch at a time, for as long as the sink
   * takes each at once: no promise and no extra turn per flush. Ends on an
   * empty queue, clearing `#flushing` in the same turn (a push from then on
   * starts a new flush; clearing it in a later microtask left a window where
   * a frame was queued but nobody wrote it), or on a write the sink did not
   * take at once, which it returns.
   */
  #writeQueued(): Promise<void> | undefined {
    for (;;) {
      this.#seal();
      if (this.#queue.length === 0) {
        this.#drained();
        return undefined;
      }
      // Up to MAX_WRITE_BYTES per write: big enough to coalesce a burst, small
      // enough that one write does not copy a whole backlog.
      let take = 1;
      let size = this.#queue[0]!.length;
      let charge = this.#charges[0]!;
      while (
        take < this.#queue.length && size + this.#queue[take]!.length <= MAX_WRITE_BYTES
      ) {
        size += this.#queue[take]!.length;
        charge += this.#charges[take]!;
        take++;
      }
      const queue = this.#queue;
      let pending: Promise<void> | undefined;
      this.#inflightCharge = charge;
      this.#beforeWrite?.();
      if (this.#deferrals !== undefined) this.#lastWriteAt = this.#deferrals.now();
      try {
        // A sink that took the bytes at once returns nothing. One that joins
        // parts itself gets the batch unjoined (and keeps the array: a new
        // queue replaces it); a single buffer leaves the arrays to reuse.
        if (take === 1) {
          const bytes = queue[0]!;
          if (queue.length === 1) {
            queue.length = 0;
            this.#charges.length = 0;
          } else {
            queue.shift();
            this.#charges.shift();
          }
          pending = this.#sink.write(bytes);
        } else {
          const all = take === queue.length;
          const batch = all ? queue : queue.slice(0, take);
          this.#queue = all ? [] : queue.slice(take);
          this.#charges = all ? [] : this.#charges.slice(take);
          pending = this.#sink.writeParts !== undefined
            ? this.#sink.writeParts(batch, size)
            : this.#sink.write(concatBytes(batch, size));
        }
      } catch (error) {
        this.#failed(error);
        return undefined;
      }
      if (pending !== undefined) return pending;
      this.#written();
    }
  }

  /** Wait on each write the sink did not take at once, then write on. */
  async #awaitWrites(pending: Promise<void>): Promise<void> {
    for (let next: Promise<void> | undefined = pending; next !== undefined;) {
      try {
        await next;
      } catch (error) {
        this.#failed(error);
        return;
      }
      this.#written();
      next = this.#writeQueued();
    }
  }

  /** The write in flight is done: release its charge. */
  #written(): void {
    this.#bytes -= this.#inflightCharge;
    this.#inflightCharge = 0;
    if (this.#bytes <= this.#maxBytes) this.#clearStall();
  }

  /** Everything queued was written: the open chunk (all of it written) is let go. */
  #drained(): void {
    this.#bytes -= this.#forgetChunk();
    this.#chunkBytes = CHUNK_BYTES;
    this.#flushing = false;
    if (this.#bytes <= this.#maxBytes) this.#clearStall();
  }

  /** A write failed: the peer went away. */
  #failed(error: unknown): void {
    this.#clearStall();
    this.#closed = true;
    this.#drop();
    this.#bytes = 0;
    this.#flushing = false;
    this.#onError?.(error);
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
      this.#seal();
      this.#queue.push(last);
      this.#charges.push(last.length + FRAME_OVERHEAD_BYTES);
      this.#bytes += last.length + FRAME_OVERHEAD_BYTES;
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
