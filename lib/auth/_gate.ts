/**
 * Per-key admission with a limit read at admission time: at most `limit()`
 * runs per key at once, the rest wait in order.
 *
 * @module
 */

interface Slot {
  running: number;
  waiting: Array<() => void>;
}

/** Limits concurrent runs per key. */
export class KeyedGate {
  readonly #slots = new Map<string, Slot>();

  /** Runs in progress for `key`. */
  running(key: string): number {
    return this.#slots.get(key)?.running ?? 0;
  }

  /**
   * Run `fn` once fewer than `limit()` runs hold `key` (at least one always
   * may run, so a limit of 0 still lets one through to be refused).
   *
   * @param key What is limited (an account, an address).
   * @param limit Read each time a waiter is considered.
   * @param fn The work.
   * @returns What `fn` returns.
   */
  async run<T>(key: string, limit: () => number, fn: () => Promise<T>): Promise<T> {
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = { running: 0, waiting: [] };
      this.#slots.set(key, slot);
    }
    const s = slot;
    while (s.running >= Math.max(1, limit())) {
      await new Promise<void>((resolve) => s.waiting.push(resolve));
    }
    s.running++;
    try {
      return await fn();
    } finally {
      s.running--;
      const next = s.waiting.shift();
      if (next) next();
      else if (s.running === 0) this.#slots.delete(key);
    }
  }
}
