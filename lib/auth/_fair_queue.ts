/**
 * Fair admission to a few slots (the password hashes): one run per key
 * (source address) at a time, and free slots go round robin between the
 * keys that wait, so a key with many queued runs delays each other key by
 * at most one run. The queue is bounded in total and per key.
 *
 * @module
 */

/** Limits of a {@linkcode FairQueue}. */
export interface FairQueueOptions {
  /** Runs at once (over all keys); a positive integer. */
  slots: number;
  /** Runs waiting over all keys before new ones are refused. */
  maxQueued: number;
  /** Runs waiting for one key before its new ones are refused. */
  maxQueuedPerKey: number;
}

/** Thrown by {@linkcode FairQueue.run} when the queue is full. */
export class QueueFullError extends Error {
  /** @param message What is full. */
  constructor(message: string) {
    super(message);
    this.name = "QueueFullError";
  }
}

interface Lane {
  running: boolean;
  waiting: (() => void)[];
}

/** Round-robin queue over keys, at most one run per key in flight. */
export class FairQueue {
  readonly #slots: number;
  readonly #maxQueued: number;
  readonly #maxQueuedPerKey: number;
  readonly #lanes = new Map<string, Lane>();
  /** Keys with runs waiting and none running, in turn order. */
  readonly #turns: string[] = [];
  #running = 0;
  #queued = 0;

  /**
   * @param options Slots and queue bounds.
   * @throws {RangeError} When a limit is not a positive integer (queue
   * bounds may be 0: no waiting at all).
   */
  constructor(options: FairQueueOptions) {
    const { slots, maxQueued, maxQueuedPerKey } = options;
    if (!Number.isInteger(slots) || slots < 1) {
      throw new RangeError(`Cannot create queue: slots must be a positive integer, got ${slots}`);
    }
    for (const [name, value] of [["maxQueued", maxQueued], ["maxQueuedPerKey", maxQueuedPerKey]]) {
      if (!Number.isInteger(value) || (value as number) < 0) {
        throw new RangeError(
          `Cannot create queue: ${name} must be a non-negative integer, got ${value}`,
        );
      }
    }
    this.#slots = slots;
    this.#maxQueued = maxQueued;
    this.#maxQueuedPerKey = maxQueuedPerKey;
  }

  /** Runs in flight. */
  get running(): number {
    return this.#running;
  }

  /** Runs waiting for a slot. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Run `fn` when `key`'s turn comes: at once when a slot is free and `key`
   * has nothing running, else after the runs of every other waiting key
   * that is ahead in the round.
   *
   * @param key Who the run is for (a source address).
   * @param fn The work.
   * @returns What `fn` returns.
   * @throws {QueueFullError} At once, without running `fn`, when the queue
   * is full in total or for `key`.
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { running: false, waiting: [] };
      this.#lanes.set(key, lane);
    }
    if (lane.running || this.#running >= this.#slots) {
      if (this.#queued >= this.#maxQueued) {
        this.#forget(key, lane);
        throw new QueueFullError(`Cannot queue: ${this.#queued} runs are waiting`);
      }
      if (lane.waiting.length >= this.#maxQueuedPerKey) {
        this.#forget(key, lane);
        throw new QueueFullError(`Cannot queue: ${lane.waiting.length} runs are waiting for it`);
      }
      const l = lane;
      // The dispatcher marks the lane running and takes the slot for us.
      await new Promise<void>((resolve) => {
        l.waiting.push(resolve);
        this.#queued++;
        if (!l.running && l.waiting.length === 1) this.#turns.push(key);
      });
    } else {
      lane.running = true;
      this.#running++;
    }
    try {
      return await fn();
    } finally {
      lane.running = false;
      this.#running--;
      // Back of the round: every other waiting key goes first.
      if (lane.waiting.length > 0) this.#turns.push(key);
      else this.#forget(key, lane);
      this.#dispatch();
    }
  }

  #dispatch(): void {
    while (this.#running < this.#slots) {
      const key = this.#turns.shift();
      if (key === undefined) return;
      const lane = this.#lanes.get(key);
      const next = lane?.waiting.shift();
      if (lane === undefined || next === undefined) continue;
      this.#queued--;
      lane.running = true;
      this.#running++;
      next();
    }
  }

  #forget(key: string, lane: Lane): void {
    if (!lane.running && lane.waiting.length === 0) this.#lanes.delete(key);
  }
}
