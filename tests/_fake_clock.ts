/**
 * The one fake clock for tests: time moves only on {@linkcode FakeClock.advance},
 * which fires every timer that falls due, in order, each seeing its own time.
 *
 * @module
 */
import type { Clock, TimerId } from "../lib/util/clock.ts";

interface Timer {
  at: number;
  every: number | undefined;
  callback: () => void;
}

/** A clock that only moves when told, with timers it fires itself. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<TimerId, Timer>();
  readonly #onSchedule = new Set<() => void>();

  /** @param start Starting time in ms since the epoch. */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerId {
    return this.#add(callback, ms, undefined);
  }

  clearTimeout(id: TimerId | undefined): void {
    if (id !== undefined) this.#timers.delete(id);
  }

  setInterval(callback: () => void, ms: number): TimerId {
    return this.#add(callback, ms, Math.max(1, ms));
  }

  clearInterval(id: TimerId | undefined): void {
    this.clearTimeout(id);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Move time forward by `ms`, firing due timers in time order (a timer set by
   * a firing callback fires too when it falls within the step).
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#nextDue(end);
      if (due === undefined) break;
      const [id, timer] = due;
      this.#now = Math.max(this.#now, timer.at);
      if (timer.every === undefined) this.#timers.delete(id);
      else timer.at += timer.every;
      timer.callback();
    }
    this.#now = end;
  }

  /**
   * Advance by `ms`, then let promise callbacks run, so work started by the
   * fired timers can settle before the test looks.
   */
  async tick(ms: number): Promise<void> {
    this.advance(ms);
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }

  /**
   * Resolves once at least `count` timers are pending: an event to wait on
   * before moving time, e.g. until every connection has its handshake timer.
   */
  async untilPendingTimers(count: number): Promise<void> {
    while (this.#timers.size < count) await this.#nextSchedule();
  }

  /**
   * Wait for `promise`, moving time to each timer as it falls due while the
   * promise is pending (for code that awaits real I/O between timers, such
   * as a lock retry loop). Fails when it would move past `limitMs`.
   */
  async runUntilSettled<T>(promise: Promise<T>, limitMs = 3_600_000): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    const quiet = watched.then(() => undefined, () => undefined);
    const end = this.#now + limitMs;
    while (!settled) {
      const next = this.#nextDue(Number.POSITIVE_INFINITY);
      if (next === undefined) {
        await Promise.race([quiet, this.#nextSchedule()]);
        continue;
      }
      if (next[1].at > end) {
        throw new Error(`Still pending after ${limitMs} ms of fake time`);
      }
      this.advance(next[1].at - this.#now);
      await Promise.resolve();
    }
    return await watched;
  }

  #add(callback: () => void, ms: number, every: number | undefined): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), every, callback });
    const waiting = [...this.#onSchedule];
    this.#onSchedule.clear();
    for (const wake of waiting) wake();
    return id;
  }

  /** Resolves the next time a timer is set. */
  #nextSchedule(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#onSchedule.add(resolve);
    return promise;
  }

  #nextDue(end: number): [TimerId, Timer] | undefined {
    let best: [TimerId, Timer] | undefined;
    for (const entry of this.#timers) {
      if (entry[1].at > end) continue;
      if (best === undefined || entry[1].at < best[1].at) best = entry;
    }
    return best;
  }
}
