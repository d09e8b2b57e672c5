/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in
 * arrival order.
 *
 * @module
 */

/** Runs async tasks with a cap on how many are in flight. */
export class Semaphore {
  #limit: number;
  #active = 0;
  #waiting: (() => void)[] = [];

  /**
   * @param limit How many tasks may run at once; a positive integer.
   * @throws {RangeError} When `limit` is not a positive integer.
   */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create semaphore: limit must be a positive integer, got ${limit}`,
      );
    }
    this.#limit = limit;
  }

  /** Tasks that may run at once. */
  get limit(): number {
    return this.#limit;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Run `task` once a slot is free; the slot is released when it settles.
   *
   * @param task The work to run.
   * @returns What `task` resolves to.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // Hand the slot straight to the next waiter so a late arrival cannot
      // overtake the queue.
      if (next) next();
      else this.#active--;
    }
  }
}
