/**
 * Rate-limited logging of repeated events: the first event of a key (an
 * address, say) is written at once, then the key's events are only counted,
 * and one summary per interval of the injected clock says how many more
 * came. A key quiet for a whole interval is forgotten. At most `maxKeys`
 * keys are tracked; events of further keys are counted together under
 * `overflowKey`, so a flood from many sources is bounded too: at most
 * `maxKeys + 1` lines per interval.
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/** Writes the lines of a {@linkcode LogSummary}. */
export interface LogSummaryWriter<D> {
  /** The first event of `key` (not for the overflow key). */
  first(key: string, detail: D): void;
  /**
   * `count` more events of `key` in the last `ms` (one interval, or less
   * when the summary is written early on dispose); `detail` is the latest
   * event's.
   */
  summary(key: string, count: number, detail: D, ms: number): void;
}

/** Options for {@linkcode LogSummary}. */
export interface LogSummaryOptions {
  /** Runs the interval timers. */
  clock: Pick<Clock, "now" | "setTimeout" | "clearTimeout">;
  /** Length of one summary interval, in ms. */
  intervalMs: number;
  /** Keys tracked at once. */
  maxKeys: number;
  /** The key events of untracked keys are counted under. */
  overflowKey: string;
}

interface Tracked<D> {
  count: number;
  detail: D;
  timer: number;
  /** When the interval being counted began. */
  since: number;
}

/**
 * Counts events per key and writes the first of each, then one summary
 * line per interval while they keep coming.
 *
 * @example Usage
 * ```ts
 * import { LogSummary } from "./log_summary.ts";
 * import { systemClock } from "./clock.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const summary = new LogSummary<string>({
 *   first: (key, detail) => lines.push(`${key}: ${detail}`),
 *   summary: (key, count) => lines.push(`${key}: ${count} more`),
 * }, { clock: systemClock, intervalMs: 10_000, maxKeys: 100, overflowKey: "others" });
 * for (let i = 0; i < 5; i++) summary.note("192.0.2.1", "refused");
 * summary[Symbol.dispose](); // writes what is counted and stops the timers
 * assert.deepEqual(lines, ["192.0.2.1: refused", "192.0.2.1: 4 more"]);
 * ```
 */
export class LogSummary<D> implements Disposable {
  readonly #writer: LogSummaryWriter<D>;
  readonly #options: LogSummaryOptions;
  readonly #keys = new Map<string, Tracked<D>>();
  #closed = false;

  /**
   * @param writer Writes the lines.
   * @param options Timers, interval and bounds.
   * @throws {RangeError} When `intervalMs` or `maxKeys` is not positive.
   */
  constructor(writer: LogSummaryWriter<D>, options: LogSummaryOptions) {
    if (!(options.intervalMs > 0) || !(options.maxKeys >= 1)) {
      throw new RangeError(
        `Cannot summarise logs: intervalMs is ${options.intervalMs}, maxKeys is ${options.maxKeys}`,
      );
    }
    this.#writer = writer;
    this.#options = options;
  }

  /** Keys tracked now (the overflow key included). */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * One event of `key`: written at once when it is the key's first in a
   * while, else counted for the key's next summary. Ignored once disposed.
   *
   * @param key What events are grouped by.
   * @param detail What the line says about this event.
   */
  note(key: string, detail: D): void {
    if (this.#closed) return;
    const known = this.#keys.get(key);
    if (known !== undefined) {
      known.count++;
      known.detail = detail;
      return;
    }
    const { maxKeys, overflowKey } = this.#options;
    const full = this.#keys.size - (this.#keys.has(overflowKey) ? 1 : 0) >= maxKeys;
    if (full || key === overflowKey) {
      const overflow = this.#keys.get(overflowKey);
      if (overflow !== undefined) {
        overflow.count++;
        overflow.detail = detail;
      } else this.#track(overflowKey, detail, 1);
      return;
    }
    this.#writer.first(key, detail);
    this.#track(key, detail, 0);
  }

  #track(key: string, detail: D, count: number): void {
    const { clock, intervalMs } = this.#options;
    const entry: Tracked<D> = { count, detail, timer: 0, since: clock.now() };
    this.#keys.set(key, entry);
    const tick = () => {
      if (entry.count === 0) {
        this.#keys.delete(key);
        return;
      }
      const count = entry.count;
      entry.count = 0;
      entry.since = clock.now();
      entry.timer = clock.setTimeout(tick, intervalMs);
      this.#writer.summary(key, count, entry.detail, intervalMs);
    };
    entry.timer = clock.setTimeout(tick, intervalMs);
  }

  /** Write the summaries still counted, stop every timer, ignore later events. */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [key, entry] of this.#keys) {
      const { clock } = this.#options;
      clock.clearTimeout(entry.timer);
      if (entry.count > 0) {
        this.#writer.summary(key, entry.count, entry.detail, clock.now() - entry.since);
      }
    }
    this.#keys.clear();
  }
}
