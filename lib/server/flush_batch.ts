/**
 * One flush for every outbox a turn pushed to: a message to a room of N
 * queues a frame in N outboxes, and instead of N microtasks (one per
 * outbox) the batch schedules one, which starts each outbox's write in the
 * order they were first pushed to.
 *
 * @module
 */

/** Options for {@linkcode FlushBatch}. */
export interface FlushBatchOptions {
  /** Runs the batch later in this turn. @default queueMicrotask */
  defer?: (run: () => void) => void;
}

/**
 * Collects the flushes due this turn and runs them together.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { FlushBatch } from "./flush_batch.ts";
 * const ran: string[] = [];
 * const batch = new FlushBatch();
 * batch.add(() => ran.push("a"));
 * batch.add(() => ran.push("b"));
 * await Promise.resolve();
 * deepEqual(ran, ["a", "b"]);
 * ```
 */
export class FlushBatch {
  readonly #defer: (run: () => void) => void;
  #due: (() => void)[] = [];
  #scheduled = false;
  readonly #run = () => this.#runDue();

  /** @param options Where the batch runs. */
  constructor(options: FlushBatchOptions = {}) {
    this.#defer = options.defer ?? queueMicrotask;
  }

  /**
   * Run `flush` with the rest of this turn's. The caller adds each flush once
   * per turn (the outbox keeps its own "scheduled" flag).
   *
   * @param flush Starts one outbox's write; must not throw.
   */
  add(flush: () => void): void {
    this.#due.push(flush);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#defer(this.#run);
  }

  #runDue(): void {
    this.#scheduled = false;
    const due = this.#due;
    this.#due = [];
    for (const flush of due) {
      try {
        flush();
      } catch (error) {
        // One outbox's failure must not keep the others from writing; it is
        // still reported, as an uncaught error in a later microtask.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
