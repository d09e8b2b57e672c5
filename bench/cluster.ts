/**
 * `deno task bench --cluster`: how far N Banter processes on one
 * nats-server go on this machine. For each load, Banter embedded (no NATS)
 * on one instance, then N = 1, 2, 3 instances in cluster mode (real
 * processes, as shipped, each its own data directory, one shared credentials
 * file) on a fresh nats-server with JetStream; the paced generator's clients
 * are spread over the instances round robin, all in one room, so every
 * message crosses the stream and reaches receivers on every instance.
 *
 * @module
 */
import { BENCH_PASSWORD, type Fixture, userNames, writeCredentials } from "./fixture.ts";
import { type ClientPlan, LoadGenerator } from "./load.ts";
import { type ProcSample, selfCpuMs } from "./proc_stats.ts";
import {
  type ClusterLoad,
  clusterMetrics,
  type ClusterRecord,
  metricValue,
} from "./cluster_report.ts";
import { type BenchSettings, LOAD_LOG_N, sampleTarget } from "./scenarios.ts";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { CpuProfiler } from "./profile.ts";
import { findExecutable, startBanter, startNatsServer, type Target } from "./targets.ts";

/** One setup of the cluster bench. */
export interface ClusterSetup {
  /** `embedded` (no NATS, one instance) or `cluster` (N instances on one nats-server). */
  mode: "embedded" | "cluster";
  instances: number;
}

/**
 * The setups of a run: embedded first, then each instance count in cluster mode.
 *
 * @param counts Instance counts.
 * @param embedded Whether to run embedded too.
 * @returns The setups in order.
 */
export function clusterSetups(counts: number[], embedded = true): ClusterSetup[] {
  return [
    ...(embedded ? [{ mode: "embedded" as const, instances: 1 }] : []),
    ...counts.map((instances) => ({ mode: "cluster" as const, instances })),
  ];
}

/**
 * The nats-server binary (Debian's package installs it in /usr/sbin).
 *
 * @returns Its path.
 * @throws {Error} When it is not installed.
 */
export function natsServerPath(): string {
  const path = findExecutable("nats-server", ["/usr/sbin", "/usr/local/sbin"]);
  if (path === undefined) {
    throw new Error(
      "Cannot run the cluster bench: nats-server is not installed (apt-get install nats-server, or sh scripts/need_packages.sh nats-server)",
    );
  }
  return path;
}

/** Quiet time after which deliveries still missing count as lost. */
const LATE_QUIET_MS = 10_000;

const wallNow = () => performance.timeOrigin + performance.now();

/** The 1-minute load average, or NaN without `--allow-sys=loadavg`. */
function loadAverageNow(): number {
  try {
    return Deno.loadavg()[0] ?? NaN;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return NaN;
    throw error;
  }
}

/** A `/metrics` page, or "" when the instance does not answer. */
async function metricsPage(target: Target): Promise<string> {
  if (target.httpPort === undefined) return "";
  try {
    const response = await fetch(`http://127.0.0.1:${target.httpPort}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    return response.ok ? await response.text() : (await response.body?.cancel(), "");
  } catch (error) {
    if (error instanceof TypeError || (error as Error).name === "TimeoutError") return "";
    throw error;
  }
}

function mib(kib: number): number {
  return kib / 1024;
}

/** Stop `targets` in reverse order of start; the first failure is thrown after all stopped. */
async function stopAll(targets: Target[]): Promise<void> {
  let failure: unknown;
  for (const target of [...targets].reverse()) {
    try {
      await target.stop();
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * The accounts bucket and its entry as the cluster keeps them (docs/CLUSTER.md:
 * `banter_auth`, key `credentials`, the text of a credentials.json file).
 */
const AUTH_BUCKET = "banter_auth";
const AUTH_CREDENTIALS_KEY = "credentials";

/**
 * Put the bench's accounts into a fresh cluster before any instance starts:
 * an instance that keeps its accounts in KV reads them there (and an empty
 * bucket would get only a new admin); one that reads `--credentials` reads
 * the same file. The bucket is made as the instances make it (history 1,
 * one replica, no direct gets), so they bind to it.
 *
 * @param url The nats-server's URL.
 * @param credentialsFile The credentials file all instances share.
 */
export async function seedClusterAccounts(url: string, credentialsFile: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    // Exactly the instances' settings (lib/cluster/kv_json_document.ts): a
    // different one would make their create fail.
    const kv = await new Kvm(nc).create(AUTH_BUCKET, {
      history: 1,
      replicas: 1,
      allow_direct: false,
    });
    await kv.create(AUTH_CREDENTIALS_KEY, await Deno.readTextFile(credentialsFile));
  } finally {
    await nc.close();
  }
}

/**
 * Run one load on one setup: start the processes, log the clients in over
 * the instances round robin, send paced for `settings.durationMs`, count
 * every delivery, stop every process (on errors too).
 *
 * @param fixture Certificates and the run directory.
 * @param settings Clients, payload, duration, workers, extra flags.
 * @param setup Embedded or N instances in cluster mode.
 * @param load `paced10` (`settings.slowRate`) or `paced` (`settings.rate`).
 * @returns The record.
 */
export async function clusterChatScenario(
  fixture: Fixture,
  settings: BenchSettings,
  setup: ClusterSetup,
  load: ClusterLoad,
): Promise<ClusterRecord> {
  const rate = load === "paced10" ? settings.slowRate : settings.rate;
  const names = userNames("u", settings.clients);
  const loadAverage = loadAverageNow();
  const label = setup.mode === "embedded" ? "embedded" : `cluster-${setup.instances}`;
  const started: Target[] = [];
  try {
    const nats = setup.mode === "cluster"
      ? await startNatsServer(fixture, natsServerPath())
      : undefined;
    if (nats) started.push(nats);
    const credentials = await writeCredentials(
      `${fixture.dir}/credentials-${label}-${load}.json`,
      names,
      { logN: LOAD_LOG_N },
    );
    if (nats) await seedClusterAccounts(`nats://127.0.0.1:${nats.port}`, credentials);
    const instances: Target[] = [];
    // One after another: the first creates the stream and buckets.
    for (let i = 0; i < setup.instances; i++) {
      const target = await startBanter(fixture, {
        credentials,
        scryptLogN: LOAD_LOG_N,
        tuned: settings.tuned,
        denoFlags: settings.denoFlags,
        serverArgs: settings.serverArgs,
        // --profile: the first instance's CPU profile.
        inspect: i === 0 && settings.profileDir !== undefined,
        name: setup.mode === "embedded" ? "embedded" : `cluster-${i + 1}-of-${setup.instances}`,
        ...(nats ? { cluster: `nats://127.0.0.1:${nats.port}` } : {}),
      });
      started.push(target);
      instances.push(target);
    }
    return await measure({ fixture, settings, setup, load, rate, names, instances, nats }, {
      label,
      loadAverage,
    });
  } finally {
    await stopAll(started);
  }
}

interface Running {
  fixture: Fixture;
  settings: BenchSettings;
  setup: ClusterSetup;
  load: ClusterLoad;
  rate: number;
  names: string[];
  instances: Target[];
  nats: Target | undefined;
}

async function measure(
  run: Running,
  about: { label: string; loadAverage: number },
): Promise<ClusterRecord> {
  const { settings, instances, nats } = run;
  await using load = await LoadGenerator.start({
    dialect: "banter",
    port: instances[0]!.port,
    ca: run.fixture.ca,
    payloadBytes: settings.payloadBytes,
    workers: settings.workers,
  });
  const plans: ClientPlan[] = run.names.map((name, i) => ({
    name,
    password: BENCH_PASSWORD,
    measure: true,
    port: instances[i % instances.length]!.port,
  }));
  const login = await load.connect(plans, { concurrency: settings.loginConcurrency });
  const notes: string[] = login.failed > 0
    ? [`${login.failed} logins failed, e.g. ${login.errors[0]}`]
    : [];
  // Joins and presence (across instances in cluster mode) settle, then count from zero.
  await load.settle(Number.POSITIVE_INFINITY, {
    quietMs: 500,
    timeoutMs: 15_000,
    field: "bytesIn",
  });
  await load.stats({ reset: true, histogram: false });
  const all = nats ? [...instances, nats] : instances;
  const profiler = settings.profileDir ? await CpuProfiler.attach(instances[0]!) : undefined;
  await profiler?.start();
  const pagesBefore = await Promise.all(instances.map(metricsPage));
  const before = await Promise.all(all.map(sampleTarget));
  const genBefore = selfCpuMs();
  const startedAt = wallNow();
  const sendReport = await load.paced(run.rate, settings.durationMs);
  const expected = sendReport.sent * login.ok;
  const settled = await load.settle(expected, { quietMs: 2000, timeoutMs: 30_000 });
  const after = await Promise.all(all.map(sampleTarget));
  const genAfter = selfCpuMs();
  const endedAt = wallNow();
  const pagesAfter = await Promise.all(instances.map(metricsPage));
  if (profiler) {
    notes.push(
      ...await profiler.stopAndSave(`${settings.profileDir}/${about.label}-${run.load}.cpuprofile`),
    );
  }
  const stats = await load.stats();
  const windowMs = Math.max(1, endedAt - startedAt);
  const activeMs = Math.max(1, (stats.lastAt || endedAt) - startedAt);
  const cpu = (i: number) => after[i]!.cpuMs - before[i]!.cpuMs;
  const instanceCpu = instances.map((_, i) => cpu(i));
  const serverCpuMs = instanceCpu.reduce((a, b) => a + b, 0);
  const natsCpuMs = nats ? cpu(instances.length) : 0;
  const generatorCpuMs = genAfter - genBefore;
  const machine = (s: ProcSample[], f: "machineTaskMs" | "machineIrqMs") => s[0]![f];
  const otherCpuMs = machine(after, "machineTaskMs") - machine(before, "machineTaskMs") -
    serverCpuMs - natsCpuMs - generatorCpuMs;
  const perDelivery = (ms: number) => stats.received > 0 ? (ms * 1000) / stats.received : NaN;
  // A starved instance can pause for longer than the quiet period: wait once
  // more, longer, so a late delivery is told apart from a lost one. The
  // figures above are from before this wait.
  const final = stats.received < expected
    ? await load.settle(expected, { quietMs: LATE_QUIET_MS, timeoutMs: 60_000 })
    : stats;
  const late = final.received - stats.received;
  const lost = expected - final.received;
  if (late > 0) {
    notes.push(
      `${late} deliveries arrived late, after a pause of more than 2 s; figures are from before them`,
    );
  }
  if (lost > 0) {
    notes.push(
      `LOST ${lost} of ${expected} deliveries (not arrived after ${LATE_QUIET_MS / 1000} s quiet)`,
    );
  }
  if (settled.dropped > 0) {
    notes.push(`${settled.dropped} clients were disconnected: ${stats.errors[0]}`);
  }
  if (sendReport.skipped > 0) {
    notes.push(
      `${sendReport.skipped} paced ticks found a client still writing (sending fell behind)`,
    );
  }
  const metrics = clusterMetrics(pagesBefore, pagesAfter);
  if (metrics && metrics.publishFailures > 0) {
    notes.push(`${metrics.publishFailures} posts were refused by the stream`);
  }
  return {
    scenario: "cluster",
    load: run.load,
    target: about.label,
    mode: run.setup.mode,
    instances: instances.length,
    workload: {
      clients: settings.clients,
      ratePerClient: run.rate,
      durationS: settings.durationMs / 1000,
      bytes: settings.payloadBytes,
      offeredDeliveriesPerSec: settings.clients * run.rate * login.ok,
    },
    clients: login.ok,
    loginFailed: login.failed,
    sent: sendReport.sent,
    expected,
    received: stats.received,
    late,
    lost,
    deliveriesPerSec: stats.received / (activeMs / 1000),
    latency: stats.histogram.summary(),
    serverCpuMs,
    serverCpuUsPerDelivery: perDelivery(serverCpuMs),
    instanceConnections: pagesBefore.map((page) =>
      metricValue(page, "banter_connections_open") ?? NaN
    ),
    instanceCpuPct: instanceCpu.map((ms) => (100 * ms) / windowMs),
    natsCpuMs,
    natsCpuUsPerDelivery: perDelivery(natsCpuMs),
    natsCpuPct: (100 * natsCpuMs) / windowMs,
    instancePeakRssMiB: instances.map((_, i) => mib(after[i]!.hwmKiB)),
    natsPeakRssMiB: nats ? mib(after[instances.length]!.hwmKiB) : 0,
    generatorCpuPct: (100 * generatorCpuMs) / windowMs,
    irqCpuPct: (100 * (machine(after, "machineIrqMs") - machine(before, "machineIrqMs"))) /
      windowMs,
    otherCpuPct: Math.max(0, (100 * otherCpuMs) / windowMs),
    loadAverage: about.loadAverage,
    ...(metrics ? { metrics } : {}),
    notes,
  };
}
