/**
 * The cluster bench's parsing and report: instance counts, `/metrics`
 * figures, the table (a loss is shown, not hidden) and the cost-of-NATS ratio.
 */
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  clusterMetrics,
  clusterRatios,
  type ClusterRecord,
  clusterTable,
  lossWarnings,
  metricValue,
  parseInstanceCounts,
  ratioTable,
} from "../../bench/cluster_report.ts";
import { main } from "../../bench/run.ts";

function record(overrides: Partial<ClusterRecord>): ClusterRecord {
  return {
    scenario: "cluster",
    load: "paced10",
    target: "embedded",
    mode: "embedded",
    instances: 1,
    workload: {},
    clients: 100,
    loginFailed: 0,
    sent: 10_000,
    expected: 1_000_000,
    received: 1_000_000,
    late: 0,
    lost: 0,
    deliveriesPerSec: 100_000,
    latency: { count: 1_000_000, meanMs: 2, p50Ms: 1.5, p90Ms: 3, p99Ms: 5, maxMs: 9 },
    serverCpuMs: 2000,
    serverCpuUsPerDelivery: 2,
    instanceConnections: [100],
    instanceCpuPct: [20],
    natsCpuMs: 0,
    natsCpuUsPerDelivery: 0,
    natsCpuPct: 0,
    instancePeakRssMiB: [100],
    natsPeakRssMiB: 0,
    generatorCpuPct: 30,
    irqCpuPct: 10,
    otherCpuPct: 5,
    loadAverage: 1.25,
    notes: [],
    ...overrides,
  };
}

Deno.test("parseInstanceCounts() keeps the order, drops repeats and refuses 0, 9 and fractions", () => {
  deepEqual(parseInstanceCounts("3,1,2,1"), [3, 1, 2]);
  for (const bad of ["0", "9", "1.5", "two", "", " , "]) {
    throws(() => parseInstanceCounts(bad), RangeError, bad);
  }
});

Deno.test("metricValue() reads an unlabelled sample and skips comments and longer names", () => {
  const page = [
    "# HELP banter_cluster_publish_seconds_sum Time to ack",
    "banter_cluster_publish_seconds_sum_extra 9",
    "banter_cluster_publish_seconds_sum 0.25",
    "banter_cluster_publish_seconds_count 100",
  ].join("\n");
  equal(metricValue(page, "banter_cluster_publish_seconds_sum"), 0.25);
  equal(metricValue(page, "banter_cluster_publish_seconds_count"), 100);
  equal(metricValue(page, "banter_cluster_instances"), undefined);
});

Deno.test("clusterMetrics() sums each instance's change over the window", () => {
  const page = (sum: number, count: number, lag: number, conflicts: number) =>
    [
      `banter_cluster_publish_seconds_sum ${sum}`,
      `banter_cluster_publish_seconds_count ${count}`,
      "banter_cluster_publish_failures_total 0",
      `banter_cluster_stream_lag_messages ${lag}`,
      `banter_cluster_kv_conflicts_total ${conflicts}`,
    ].join("\n");
  const metrics = clusterMetrics(
    [page(1, 100, 0, 2), page(0, 0, 0, 0)],
    [page(2, 600, 3, 5), page(0.5, 500, 7, 1)],
  );
  deepEqual(metrics, {
    publishes: 1000,
    publishMeanMs: 1.5,
    publishFailures: 0,
    streamLagMax: 7,
    kvConflicts: 4,
  });
  // An embedded server's page has none of them.
  equal(clusterMetrics(["banter_sessions 3"], ["banter_sessions 4"]), undefined);
});

Deno.test("clusterTable() has a row per setup, lists each instance and marks a loss", () => {
  const table = clusterTable([
    record({}),
    record({
      target: "cluster-2",
      mode: "cluster",
      instances: 2,
      lost: 1234,
      late: 56,
      instanceCpuPct: [40, 45],
      instancePeakRssMiB: [110, 120],
      natsCpuPct: 12,
      natsPeakRssMiB: 20,
    }),
  ]);
  const rows = table.split("\n");
  equal(rows.length, 4);
  ok(rows[2]!.startsWith("| paced10 | embedded | 100,000 | 0 |"), rows[2]);
  ok(rows[3]!.includes("| **1,234 LOST** (56 late) |"), rows[3]);
  ok(rows[3]!.includes("| 40 + 45 |"), rows[3]);
  ok(rows[3]!.includes("| 110 + 120 |"), rows[3]);
});

Deno.test("clusterRatios() divides cluster-1 by embedded, NATS's CPU counted in the total", () => {
  const records = [
    record({}),
    record({
      target: "cluster-1",
      mode: "cluster",
      deliveriesPerSec: 50_000,
      latency: { count: 1, meanMs: 1, p50Ms: 1, p90Ms: 1, p99Ms: 20, maxMs: 30 },
      serverCpuUsPerDelivery: 3,
      natsCpuUsPerDelivery: 1,
      instancePeakRssMiB: [150],
    }),
    // paced has no embedded record: no ratio for it.
    record({ load: "paced", target: "cluster-1", mode: "cluster" }),
  ];
  deepEqual(clusterRatios(records), [{
    load: "paced10",
    deliveriesPerSec: 0.5,
    p99: 4,
    serverCpuPerDelivery: 1.5,
    totalCpuPerDelivery: 2,
    peakRss: 1.5,
  }]);
  ok(ratioTable(records).includes("| paced10 | 0.5 | 4 | 1.5 | 2 | 1.5 |"));
  equal(ratioTable([record({})]), "");
});

Deno.test("lossWarnings() names every setup that lost deliveries or logins", () => {
  deepEqual(lossWarnings([record({})]), []);
  deepEqual(
    lossWarnings([
      record({ target: "cluster-3", lost: 5, expected: 100 }),
      record({ target: "cluster-2", loginFailed: 2 }),
    ]),
    ["paced10 on cluster-3 LOST 5 of 100 deliveries", "paced10 on cluster-2: 2 logins failed"],
  );
});

Deno.test("bench refuses cluster flags without --cluster and other scenarios with it", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    equal(await main(["--cluster-instances", "2"]), 2);
    equal(await main(["--cluster", "--scenarios", "idle"]), 2);
    equal(await main(["--cluster", "--cluster-instances", "0"]), 2);
  } finally {
    console.error = original;
  }
  ok(errors[0]!.startsWith("bench: Cannot use --cluster-instances: it needs --cluster"), errors[0]);
  ok(errors[1]!.startsWith("bench: Cannot use --scenarios idle: expected one of paced10, paced"));
  ok(errors[2]!.startsWith("bench: Cannot use --cluster-instances 0: expected a whole number"));
});
