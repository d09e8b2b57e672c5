/**
 * Benchmark records (one JSON line each) and the readable comparison table
 * with ours/peer ratios.
 *
 * @module
 */
import type { LatencySummary } from "./histogram.ts";

/** One scenario run against one target. Absent fields do not apply. */
export interface BenchRecord {
  scenario: "paced10" | "paced" | "burst" | "idle2k" | "idle" | "storm" | "startup" | "echo";
  target: string;
  /** The workload, as run. */
  workload: Record<string, number | string | boolean>;
  clients?: number;
  loginWallMs?: number;
  loginLatency?: LatencySummary;
  loginFailed?: number;
  sent?: number;
  expected?: number;
  received?: number;
  lost?: number;
  deliveriesPerSec?: number;
  latency?: LatencySummary;
  serverCpuMs?: number;
  /** Server CPU over the window as a share of one core, %. */
  serverCpuPct?: number;
  serverCpuUsPerDelivery?: number;
  /** Idle: server CPU over the login window divided by the sessions logged in. */
  serverCpuMsPerLogin?: number;
  /** Idle: CPU of one password check (scrypt) measured in the bench's process; Banter only. */
  hashCpuMs?: number;
  /** Idle: server CPU per login minus {@linkcode hashCpuMs} (peers check no password). */
  serverCpuMsPerLoginBesidesHash?: number;
  generatorCpuMs?: number;
  generatorCpuPct?: number;
  /**
   * CPU used by every other process on the machine over the same window, %
   * of a core: anything well above 0 means the figures were disturbed.
   */
  otherCpuPct?: number;
  /**
   * Interrupt + softirq CPU of the machine over the window, % of a core:
   * mostly the kernel's loopback TCP work for this traffic, charged to no
   * process.
   */
  irqCpuPct?: number;
  peakRssMiB?: number;
  rssBeforeMiB?: number;
  rssAfterMiB?: number;
  rssPerSessionKiB?: number;
  /** Start-up: spawn to the listening line, ms (median of runs). */
  listeningMs?: number;
  /** Start-up: spawn to the first completed TLS handshake, ms (median). */
  firstHandshakeMs?: number;
  /** Echo: bytes the client wrote per incoming message (the redraw cost). */
  echoBytesPerMessage?: number;
  /** Login storm figures. */
  storm?: Record<string, number>;
  notes: string[];
}

/** One row of the table: a figure and which way is better. */
interface Figure {
  scenario: BenchRecord["scenario"];
  label: string;
  better: "higher" | "lower";
  get: (r: BenchRecord) => number | undefined;
  digits?: number;
}

type Get = Figure["get"];

function figures(
  scenario: Figure["scenario"],
  rows: [label: string, better: Figure["better"], get: Get, digits?: number][],
): Figure[] {
  return rows.map(([label, better, get, digits]) => ({
    scenario,
    label,
    better,
    get,
    ...(digits === undefined ? {} : { digits }),
  }));
}

const serverCpuPct: Get = (r) => r.serverCpuPct;
const generatorCpuPct: Get = (r) => r.generatorCpuPct;
const otherCpuPct: Get = (r) => r.otherCpuPct;
const irqCpuPct: Get = (r) => r.irqCpuPct;

function chatFigures(scenario: "paced10" | "paced" | "burst"): Figure[] {
  return figures(scenario, [
    ["deliveries/s", "higher", (r) => r.deliveriesPerSec, 0],
    ["lost deliveries", "lower", (r) => r.lost, 0],
    ["latency p50 ms", "lower", (r) => r.latency?.p50Ms],
    ["latency p90 ms", "lower", (r) => r.latency?.p90Ms],
    ["latency p99 ms", "lower", (r) => r.latency?.p99Ms],
    ["latency max ms", "lower", (r) => r.latency?.maxMs],
    ["server CPU µs/delivery", "lower", (r) => r.serverCpuUsPerDelivery],
    ["server CPU % of a core", "lower", serverCpuPct, 0],
    ["generator CPU % of a core", "lower", generatorCpuPct, 0],
    ["kernel softirq (network) CPU % of a core", "lower", irqCpuPct, 0],
    ["other processes' CPU % of a core", "lower", otherCpuPct, 0],
    ["server peak RSS MiB", "lower", (r) => r.peakRssMiB, 1],
    ["time to log all in ms", "lower", (r) => r.loginWallMs, 0],
  ]);
}

function idleFigures(scenario: "idle2k" | "idle"): Figure[] {
  return figures(scenario, [
    ["sessions held", "higher", (r) => r.clients, 0],
    ["time to log all in ms", "lower", (r) => r.loginWallMs, 0],
    ["RSS per session KiB", "lower", (r) => r.rssPerSessionKiB, 1],
    ["server RSS after MiB", "lower", (r) => r.rssAfterMiB, 1],
    ["server peak RSS MiB", "lower", (r) => r.peakRssMiB, 1],
    ["server CPU ms to log all in", "lower", (r) => r.serverCpuMs, 0],
    ["server CPU ms per login", "lower", (r) => r.serverCpuMsPerLogin],
    ["one password check CPU ms (in-process)", "lower", (r) => r.hashCpuMs],
    ["server CPU ms per login besides the hash", "lower", (r) => r.serverCpuMsPerLoginBesidesHash],
    ["generator CPU % of a core", "lower", generatorCpuPct, 0],
    ["kernel softirq (network) CPU % of a core", "lower", irqCpuPct, 0],
    ["other processes' CPU % of a core", "lower", otherCpuPct, 0],
  ]);
}

const FIGURES: Figure[] = [
  ...chatFigures("paced10"),
  ...chatFigures("paced"),
  ...chatFigures("burst"),
  ...idleFigures("idle2k"),
  ...idleFigures("idle"),
  ...figures("storm", [
    ["logins/s", "higher", (r) => r.storm?.loginsPerSec],
    ["ceiling logins/s (cores/hash)", "higher", (r) => r.storm?.ceilingLoginsPerSec],
    ["one hash ms (in-process)", "lower", (r) => r.storm?.hashMs],
    ["login p50 ms", "lower", (r) => r.loginLatency?.p50Ms, 0],
    ["login max ms", "lower", (r) => r.loginLatency?.maxMs, 0],
    ["chat p99 ms, before storm", "lower", (r) => r.storm?.baselineP99Ms],
    ["chat p99 ms, during storm", "lower", (r) => r.storm?.stormP99Ms],
    ["chat max ms, during storm", "lower", (r) => r.storm?.stormMaxMs],
    ["server CPU % of a core", "lower", serverCpuPct, 0],
    ["kernel softirq (network) CPU % of a core", "lower", irqCpuPct, 0],
    ["other processes' CPU % of a core", "lower", otherCpuPct, 0],
  ]),
  ...figures("startup", [
    ["spawn to listening ms", "lower", (r) => r.listeningMs, 0],
    ["spawn to first TLS handshake ms", "lower", (r) => r.firstHandshakeMs, 0],
  ]),
  ...figures("echo", [
    ["keystroke to echo p50 ms (1,000 msg/s arriving)", "lower", (r) => r.latency?.p50Ms],
    ["keystroke to echo p99 ms (1,000 msg/s arriving)", "lower", (r) => r.latency?.p99Ms],
    ["client bytes written per incoming message", "lower", (r) => r.echoBytesPerMessage, 0],
  ]),
];

function format(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/**
 * The comparison table: one row per figure, Banter first, then each peer
 * and the ratio ours/peer. A ratio above 1 is better for "higher" figures
 * and worse for "lower" ones.
 *
 * @param records Every record of the run.
 * @param ours The target the ratios are about.
 * @returns Markdown table text.
 */
export function comparisonTable(records: BenchRecord[], ours = "banter"): string {
  const peers = [...new Set(records.map((r) => r.target))].filter((t) => t !== ours);
  const head = ["scenario", "figure", "better", ours, ...peers.flatMap((p) => [p, `${ours}/${p}`])];
  const rows: string[][] = [];
  for (const figure of FIGURES) {
    const find = (target: string) =>
      records.find((r) => r.scenario === figure.scenario && r.target === target);
    const mine = find(ours);
    if (mine === undefined) continue;
    const value = figure.get(mine);
    const row = [figure.scenario, figure.label, figure.better, format(value, figure.digits)];
    for (const peer of peers) {
      const theirs = find(peer);
      const other = theirs ? figure.get(theirs) : undefined;
      row.push(format(other, figure.digits));
      row.push(
        value !== undefined && other !== undefined && other !== 0 && !Number.isNaN(value) &&
          !Number.isNaN(other)
          ? format(value / other, 2)
          : "-",
      );
    }
    rows.push(row);
  }
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * Notes of every record, one bullet each.
 *
 * @param records Every record of the run.
 * @returns Markdown bullets.
 */
export function notesList(records: BenchRecord[]): string {
  return records.flatMap((r) => r.notes.map((n) => `- ${r.scenario}/${r.target}: ${n}`)).join("\n");
}
