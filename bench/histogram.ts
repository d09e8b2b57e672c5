/**
 * A latency histogram with fixed log-spaced buckets (1 % wide, from 1 µs),
 * cheap to record into, to send between workers and to merge. Percentiles
 * are the upper edge of their bucket, so they read at most 1 % high.
 *
 * @module
 */

/** Relative width of one bucket. */
const STEP = 1.01;
const INV_LN_STEP = 1 / Math.log(STEP);
/** Buckets: 1.01^2400 µs is far above any bounded run. */
export const HISTOGRAM_BUCKETS = 2400;

/** The plain data of a histogram, as sent between threads. */
export interface HistogramData {
  counts: Uint32Array;
  count: number;
  sumMs: number;
  maxMs: number;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Records latencies in milliseconds.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { LatencyHistogram } from "./histogram.ts";
 * const h = new LatencyHistogram();
 * for (let i = 1; i <= 100; i++) h.record(i);
 * equal(Math.abs(h.percentile(50) - 50) < 1, true);
 * equal(h.summary().maxMs, 100);
 * ```
 */
export class LatencyHistogram implements HistogramData {
  counts: Uint32Array = new Uint32Array(HISTOGRAM_BUCKETS);
  count = 0;
  sumMs = 0;
  maxMs = 0;

  /** Add one latency; negative values (clock skew) count as 0. */
  record(ms: number): void {
    const us = ms * 1000;
    let i = us <= 1 ? 0 : Math.ceil(Math.log(us) * INV_LN_STEP);
    if (i >= HISTOGRAM_BUCKETS) i = HISTOGRAM_BUCKETS - 1;
    this.counts[i]!++;
    this.count++;
    if (ms > 0) this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Add another histogram's data into this one. */
  merge(other: HistogramData): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumMs += other.sumMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** Forget everything. */
  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
    this.maxMs = 0;
  }

  /**
   * The latency below which `p` percent of samples fall.
   *
   * @param p Percent, 0–100.
   * @returns Milliseconds (bucket upper edge, capped at the maximum), or NaN when empty.
   */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(STEP ** i / 1000, this.maxMs);
    }
    return this.maxMs;
  }

  /** Count, mean, p50/p90/p99 and max. */
  summary(): LatencySummary {
    return {
      count: this.count,
      meanMs: this.count === 0 ? NaN : this.sumMs / this.count,
      p50Ms: this.percentile(50),
      p90Ms: this.percentile(90),
      p99Ms: this.percentile(99),
      maxMs: this.count === 0 ? NaN : this.maxMs,
    };
  }

  /** A copy of the data, for `postMessage`. */
  data(): HistogramData {
    return {
      counts: this.counts.slice(),
      count: this.count,
      sumMs: this.sumMs,
      maxMs: this.maxMs,
    };
  }
}
