/**
 * What `deno task bench --cluster` records and prints: one
 * {@linkcode ClusterRecord} per load and setup (embedded, or N instances on
 * one nats-server), the Markdown table of them, the ratio cluster-1 /
 * embedded, and the small parsers the run needs (instance counts, figures
 * from a `/metrics` page).
 *
 * @module
 */
import type { LatencySummary } from "./histogram.ts";

/** The loads the cluster bench runs (the paced scenarios' workloads). */
export const CLUSTER_LOADS = ["paced10", "paced"] as const;

/** One of {@linkcode CLUSTER_LOADS}. */
export type ClusterLoad = typeof CLUSTER_LOADS[number];

/** Most instances one run starts: each is a process on this machine. */
export const MAX_CLUSTER_INSTANCES = 8;

/** The `banter_cluster_*` figures over a run, summed over the instances. */
export interface ClusterMetrics {
  /** Posts the stream acknowledged in the window. */
  publishes: number;
  /** Mean time from post to the stream's ack, ms. */
  publishMeanMs: number;
  /** Posts the stream did not take. */
  publishFailures: number;
  /** Largest `stream_lag_messages` of any instance at the end. */
  streamLagMax: number;
  /** Compare-and-set writes retried after a conflict. */
  kvConflicts: number;
}

/** One load on one setup. */
export interface ClusterRecord {
  scenario: "cluster";
  load: ClusterLoad;
  /** `embedded` (no NATS) or `cluster-N`. */
  target: string;
  mode: "embedded" | "cluster";
  instances: number;
  workload: Record<string, number>;
  clients: number;
  loginFailed: number;
  sent: number;
  expected: number;
  received: number;
  /** Received, but only after a pause of more than 2 s (not in `received`). */
  late: number;
  lost: number;
  deliveriesPerSec: number;
  latency: LatencySummary;
  /** Every Banter instance's CPU over the window, summed. */
  serverCpuMs: number;
  serverCpuUsPerDelivery: number;
  /** Each instance's open connections (`banter_connections_open`) once every client was in. */
  instanceConnections: number[];
  /** Each instance's CPU over the window, % of a core. */
  instanceCpuPct: number[];
  /** nats-server's CPU over the window (0 when embedded). */
  natsCpuMs: number;
  natsCpuUsPerDelivery: number;
  natsCpuPct: number;
  /** Peak RSS of each instance, MiB. */
  instancePeakRssMiB: number[];
  natsPeakRssMiB: number;
  generatorCpuPct: number;
  irqCpuPct: number;
  otherCpuPct: number;
  /** The machine's 1-minute load average when the setup started. */
  loadAverage: number;
  metrics?: ClusterMetrics;
  notes: string[];
}

/**
 * Parse `--cluster-instances`: a comma-separated list of instance counts.
 *
 * @param value The flag's text.
 * @returns The counts, in the order given, without repeats.
 * @throws {RangeError} When an item is not a whole number from 1 to {@linkcode MAX_CLUSTER_INSTANCES}.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseInstanceCounts } from "./cluster_report.ts";
 * deepEqual(parseInstanceCounts("1, 2,3,2"), [1, 2, 3]);
 * ```
 */
export function parseInstanceCounts(value: string): number[] {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) {
    throw new RangeError("Cannot use --cluster-instances: the list is empty");
  }
  const counts: number[] = [];
  for (const item of items) {
    const n = Number(item);
    if (!/^\d+$/.test(item) || n < 1 || n > MAX_CLUSTER_INSTANCES) {
      throw new RangeError(
        `Cannot use --cluster-instances ${item}: expected a whole number from 1 to ${MAX_CLUSTER_INSTANCES}`,
      );
    }
    if (!counts.includes(n)) counts.push(n);
  }
  return counts;
}

/**
 * The value of an unlabelled metric in Prometheus text.
 *
 * @param text A `/metrics` page.
 * @param name The metric's name.
 * @returns Its value, or `undefined` when the page has no such line.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { metricValue } from "./cluster_report.ts";
 * equal(metricValue("# HELP a x\na_total 3\na 1.5\n", "a"), 1.5);
 * ```
 */
export function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + " ")) continue;
    const value = Number(line.slice(name.length + 1).trim().split(" ")[0]);
    return Number.isFinite(value) ? value : undefined;
  }
  return undefined;
}

/** The counters {@linkcode clusterMetrics} reads from one instance's page. */
const COUNTERS = {
  publishSum: "banter_cluster_publish_seconds_sum",
  publishCount: "banter_cluster_publish_seconds_count",
  publishFailures: "banter_cluster_publish_failures_total",
  lag: "banter_cluster_stream_lag_messages",
  kvConflicts: "banter_cluster_kv_conflicts_total",
} as const;

/**
 * The cluster figures of a window from every instance's `/metrics` page
 * before and after it.
 *
 * @param before Each instance's page at the start.
 * @param after Each instance's page at the end, in the same order.
 * @returns The figures, or `undefined` when no page has cluster metrics.
 */
export function clusterMetrics(before: string[], after: string[]): ClusterMetrics | undefined {
  let found = false;
  const delta = (i: number, name: string) => {
    const end = metricValue(after[i] ?? "", name);
    if (end !== undefined) found = true;
    return (end ?? 0) - (metricValue(before[i] ?? "", name) ?? 0);
  };
  let publishes = 0;
  let publishSeconds = 0;
  let publishFailures = 0;
  let kvConflicts = 0;
  let streamLagMax = 0;
  for (let i = 0; i < after.length; i++) {
    publishes += delta(i, COUNTERS.publishCount);
    publishSeconds += delta(i, COUNTERS.publishSum);
    publishFailures += delta(i, COUNTERS.publishFailures);
    kvConflicts += delta(i, COUNTERS.kvConflicts);
    streamLagMax = Math.max(streamLagMax, metricValue(after[i]!, COUNTERS.lag) ?? 0);
  }
  if (!found) return undefined;
  return {
    publishes,
    publishMeanMs: publishes > 0 ? (publishSeconds * 1000) / publishes : NaN,
    publishFailures,
    streamLagMax,
    kvConflicts,
  };
}

function format(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function line(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

const HEAD = [
  "load",
  "setup",
  "deliveries/s",
  "lost",
  "p50 ms",
  "p99 ms",
  "Banter CPU µs/delivery (all instances)",
  "nats-server CPU µs/delivery",
  "Banter CPU % of a core, per instance",
  "nats-server CPU %",
  "peak RSS MiB, per instance",
  "nats-server RSS MiB",
  "publish→ack mean ms",
  "other processes' CPU %",
  "load average",
];

/**
 * The cluster table: one row per load and setup; a run that lost
 * deliveries says so in its `lost` cell.
 *
 * @param records The run's records.
 * @returns Markdown table text.
 */
export function clusterTable(records: ClusterRecord[]): string {
  const rows = records.map((r) => [
    r.load,
    r.target,
    format(r.deliveriesPerSec, 0),
    [
      r.lost > 0 ? `**${format(r.lost, 0)} LOST**` : "0",
      ...(r.late > 0 ? [`(${format(r.late, 0)} late)`] : []),
    ].join(" "),
    format(r.latency.p50Ms),
    format(r.latency.p99Ms),
    format(r.serverCpuUsPerDelivery),
    r.mode === "cluster" ? format(r.natsCpuUsPerDelivery) : "-",
    r.instanceCpuPct.map((p) => format(p, 0)).join(" + "),
    r.mode === "cluster" ? format(r.natsCpuPct, 0) : "-",
    r.instancePeakRssMiB.map((m) => format(m, 0)).join(" + "),
    r.mode === "cluster" ? format(r.natsPeakRssMiB, 0) : "-",
    format(r.metrics?.publishMeanMs),
    format(r.otherCpuPct, 0),
    format(r.loadAverage, 1),
  ]);
  return [line(HEAD), line(HEAD.map(() => "---")), ...rows.map(line)].join("\n");
}

/** cluster-1 / embedded for one load. */
export interface ClusterRatio {
  load: ClusterLoad;
  deliveriesPerSec: number;
  p99: number;
  /** Banter's CPU per delivery alone. */
  serverCpuPerDelivery: number;
  /** Banter's and nats-server's CPU per delivery together, over embedded Banter's. */
  totalCpuPerDelivery: number;
  peakRss: number;
}

/**
 * The cost of NATS: cluster mode on one instance over embedded, per load
 * with both.
 *
 * @param records The run's records.
 * @returns One ratio per load that has both an `embedded` and a `cluster-1` record.
 *
 * @example
 * ```ts ignore
 * clusterRatios(records)[0]?.totalCpuPerDelivery; // 2.4: NATS mode costs 2.4× the CPU
 * ```
 */
export function clusterRatios(records: ClusterRecord[]): ClusterRatio[] {
  const ratios: ClusterRatio[] = [];
  for (const load of CLUSTER_LOADS) {
    const embedded = records.find((r) => r.load === load && r.mode === "embedded");
    const one = records.find((r) => r.load === load && r.mode === "cluster" && r.instances === 1);
    if (embedded === undefined || one === undefined) continue;
    ratios.push({
      load,
      deliveriesPerSec: one.deliveriesPerSec / embedded.deliveriesPerSec,
      p99: one.latency.p99Ms / embedded.latency.p99Ms,
      serverCpuPerDelivery: one.serverCpuUsPerDelivery / embedded.serverCpuUsPerDelivery,
      totalCpuPerDelivery: (one.serverCpuUsPerDelivery + one.natsCpuUsPerDelivery) /
        embedded.serverCpuUsPerDelivery,
      peakRss: sum(one.instancePeakRssMiB) / sum(embedded.instancePeakRssMiB),
    });
  }
  return ratios;
}

/**
 * {@linkcode clusterRatios} as a Markdown table.
 *
 * @param records The run's records.
 * @returns Table text, or "" when no load has both setups.
 */
export function ratioTable(records: ClusterRecord[]): string {
  const ratios = clusterRatios(records);
  if (ratios.length === 0) return "";
  const head = [
    "load",
    "deliveries/s",
    "p99",
    "Banter CPU/delivery",
    "Banter + nats-server CPU/delivery",
    "peak RSS",
  ];
  const rows = ratios.map((r) => [
    r.load,
    format(r.deliveriesPerSec),
    format(r.p99),
    format(r.serverCpuPerDelivery),
    format(r.totalCpuPerDelivery),
    format(r.peakRss),
  ]);
  return [
    "cluster-1 / embedded:",
    "",
    line(head),
    line(head.map(() => "---")),
    ...rows.map(line),
  ].join("\n");
}

/**
 * Lines that say which records lost deliveries or failed logins (empty when
 * none did).
 *
 * @param records The run's records.
 * @returns One warning per bad record.
 */
export function lossWarnings(records: ClusterRecord[]): string[] {
  return records.flatMap((r) => [
    ...(r.lost > 0 ? [`${r.load} on ${r.target} LOST ${r.lost} of ${r.expected} deliveries`] : []),
    ...(r.loginFailed > 0 ? [`${r.load} on ${r.target}: ${r.loginFailed} logins failed`] : []),
  ]);
}
