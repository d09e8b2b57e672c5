/**
 * `deno task bench`: load, latency, memory, login-storm and start-up
 * benchmarks of Banter over real TLS, with ngIRCd and `ncat --chat` run on
 * the same workload when installed. Prints one JSON line per result, then a
 * table with ours/peer ratios. See bench/README.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createFixture } from "./fixture.ts";
import { PEER_NAMES, peerLaunchers, type PeerName, versionOf } from "./peers.ts";
import { type BenchRecord, comparisonTable, notesList } from "./report.ts";
import {
  banterLauncher,
  type BenchSettings,
  chatScenario,
  idleScenario,
  type Launcher,
  startupScenario,
  stormScenario,
} from "./scenarios.ts";
import { parseFloorTarget, startFloorRelay, stopAllTargets } from "./targets.ts";
import { echoScenario } from "./echo.ts";
import { clusterChatScenario, clusterSetups } from "./cluster.ts";
import {
  CLUSTER_LOADS,
  type ClusterLoad,
  type ClusterRecord,
  clusterTable,
  lossWarnings,
  parseInstanceCounts,
  ratioTable,
} from "./cluster_report.ts";
import type { Fixture } from "./fixture.ts";

const SCENARIOS = [
  "paced10",
  "paced",
  "burst",
  "idle2k",
  "idle",
  "storm",
  "startup",
  "echo",
] as const;
type Scenario = typeof SCENARIOS[number];

const USAGE = `Usage: deno task bench [options]

  --scenarios LIST        ${SCENARIOS.join(",")} (default: all)
  --targets LIST          banter,${PEER_NAMES.join(",")} (default: all; peers only when installed),
                          and the CPU floor on request: floor-node, floor-deno (bench/floor_relay.ts,
                          a bare TLS line relay on that engine, window --floor-window-ms) or
                          floor-node-w<MS>, floor-deno-w<MS> (window MS; 0: a write per delivery)
  --floor-window-ms MS    write-coalescing window of floor-node and floor-deno (default 2)
  --floor-max-window-ms MS the floor's longest stretched window (default: its window, no stretching)
  --clients N             chat clients in one room (default 100)
  --rate N                paced: messages/s per client (default 40)
  --slow-rate N           paced10: messages/s per client (default 10)
  --duration S            paced: seconds of sending (default 10)
  --messages N            burst: messages per client (default 50)
  --bytes N               chat payload bytes (default 100)
  --idle-sessions N       idle: sessions held (default 10000)
  --small-idle-sessions N idle2k: sessions held (default 2000)
  --idle-room-size N      idle: sessions per room, 0 for one room (default 100)
  --idle-budget S         idle: seconds after which no new login starts (default 90)
  --storm-logins N        storm: simultaneous logins at scrypt logN 17 (default 50)
  --storm-chatters N      storm: users chatting meanwhile (default 10)
  --storm-rate N          storm: messages/s per chatter (default 10)
  --startup-runs N        start-up: starts per server, median reported (default 3)
  --workers N             load generator threads (default 2)
  --login-concurrency N   logins in flight per worker (default 30: with 2 workers that stays
                          under Banter's cap of 64 pending TLS handshakes per address)
  --deno-flags "FLAGS"    extra 'deno run' flags for Banter (also BANTER_BENCH_DENO_FLAGS),
                          e.g. "--v8-flags=--max-old-space-size=4096"
  --server-args "ARGS"    extra server.ts flags for Banter (also BANTER_BENCH_SERVER_ARGS),
                          e.g. "--tls-engine deno"
  --shipped               Banter as shipped (the default): history on in SQLite, log level
                          info, /metrics on; rate limits raised as for every server
  --tuned                 Banter with round 1's tuned flags instead: --history-limit 0,
                          --log-level warning
  --profile DIR           save V8 CPU profiles of Banter's paced and burst runs (with --cluster:
                          of the first instance of each setup) to DIR,
                          and split its idle memory into JS heap and the rest
  --cluster               instead of the scenarios above: Banter embedded on one instance, then
                          N instances in cluster mode on a nats-server this run starts, the
                          paced clients spread over them round robin (--scenarios picks the
                          loads: paced10,paced; default both)
  --cluster-instances LIST instance counts for --cluster (default 1,2,3)
  --no-embedded           --cluster without the embedded run
  --json FILE             also append the JSON lines to FILE
  --keep                  keep the temporary directory (certificates, configs, data)
  --help                  show this help`;

const STRING_FLAGS = [
  "scenarios",
  "targets",
  "clients",
  "rate",
  "slow-rate",
  "duration",
  "messages",
  "bytes",
  "idle-sessions",
  "small-idle-sessions",
  "idle-room-size",
  "idle-budget",
  "storm-logins",
  "storm-chatters",
  "storm-rate",
  "startup-runs",
  "workers",
  "login-concurrency",
  "deno-flags",
  "server-args",
  "profile",
  "json",
  "cluster-instances",
  "floor-window-ms",
  "floor-max-window-ms",
] as const;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new RangeError(`Cannot use --${name} ${value}: expected a positive number`);
  }
  return n;
}

function nonNegative(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Cannot use --${name} ${value}: expected a whole number ≥ 0`);
  }
  return n;
}

function nonNegativeMs(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new RangeError(`Cannot use --${name} ${value}: expected a time in ms ≥ 0`);
  }
  return n;
}

/** `--targets`: banter, the peers, and floor targets (`floor-node`, `floor-deno-w4`, ...). */
function targetList(value: string | undefined, floorWindowMs: number): string[] | undefined {
  if (value === undefined) return undefined;
  const known: string[] = ["banter", ...PEER_NAMES];
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!known.includes(item) && parseFloorTarget(item, floorWindowMs) === undefined) {
      throw new RangeError(
        `Cannot use --targets ${item}: expected one of ${
          known.join(", ")
        }, floor-node, floor-deno, floor-node-w<MS> or floor-deno-w<MS>`,
      );
    }
  }
  return items;
}

/** Launchers for the floor targets among `targets`, in their order. */
function floorLaunchers(
  fixture: Fixture,
  targets: string[],
  windowMs: number,
  maxWindowMs: number | undefined,
): Launcher[] {
  return targets.flatMap((name) => {
    const floor = parseFloorTarget(name, windowMs);
    if (floor === undefined) return [];
    const options = {
      ...floor,
      ...(maxWindowMs === undefined ? {} : { maxWindowMs: Math.max(floor.windowMs, maxWindowMs) }),
    };
    return [{
      name,
      ca: fixture.ca,
      profilable: false,
      start: () => startFloorRelay(fixture, options),
    }];
  });
}

function list<T extends string>(
  name: string,
  value: string | undefined,
  known: readonly T[],
): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!known.includes(item as T)) {
      throw new RangeError(`Cannot use --${name} ${item}: expected one of ${known.join(", ")}`);
    }
  }
  return items as T[];
}

async function machine(): Promise<Record<string, string>> {
  const cpuinfo = await new Deno.Command("sh", {
    args: ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; ulimit -n; uname -r"],
    stdout: "piped",
  }).output();
  const [model, nofile, kernel] = new TextDecoder().decode(cpuinfo.stdout).split("\n").map((s) =>
    s.trim()
  );
  const memory = Deno.systemMemoryInfo();
  return {
    cpus: String(navigator.hardwareConcurrency),
    cpuModel: model ?? "unknown",
    memoryGiB: (memory.total / 2 ** 30).toFixed(1),
    kernel: kernel ?? "unknown",
    openFilesLimit: nofile ?? "unknown",
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    ngircd: await versionOf("ngircd") ?? "not installed",
    ncat: await versionOf("ncat") ?? "not installed",
  };
}

/**
 * Run the bench.
 *
 * @param args Command-line arguments.
 * @returns Exit status: 0, or 2 for bad arguments.
 */
export async function main(args: string[]): Promise<number> {
  let settings: BenchSettings;
  let scenarios: Scenario[];
  let targets: string[];
  let options: ReturnType<typeof parse>;
  let instanceCounts: number[];
  let floor: { windowMs: number; maxWindowMs: number | undefined };
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      options: {
        ...Object.fromEntries(STRING_FLAGS.map((name) => [name, { type: "string" }] as const)),
        keep: { type: "boolean" },
        shipped: { type: "boolean" },
        tuned: { type: "boolean" },
        cluster: { type: "boolean" },
        "no-embedded": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    }).values as Record<string, string | boolean | undefined>;
  try {
    options = parse(args);
    if (options.help) {
      console.log(USAGE);
      return 0;
    }
    const str = (name: string) => options[name] as string | undefined;
    if (options.shipped && options.tuned) {
      throw new TypeError("Cannot use --shipped with --tuned: pick one configuration");
    }
    const int = (name: string, fallback: number) => Math.floor(positive(name, str(name), fallback));
    const clusterFlags = ["cluster-instances", "no-embedded"].filter((f) => options[f]);
    if (!options.cluster && clusterFlags.length > 0) {
      throw new TypeError(`Cannot use --${clusterFlags[0]}: it needs --cluster`);
    }
    scenarios = options.cluster
      ? list("scenarios", str("scenarios"), CLUSTER_LOADS) ?? [...CLUSTER_LOADS]
      : list("scenarios", str("scenarios"), SCENARIOS) ?? [...SCENARIOS];
    instanceCounts = parseInstanceCounts(str("cluster-instances") ?? "1,2,3");
    const floorWindowMs = nonNegativeMs("floor-window-ms", str("floor-window-ms"), 2);
    const floorMaxWindowMs = str("floor-max-window-ms") === undefined
      ? undefined
      : nonNegativeMs("floor-max-window-ms", str("floor-max-window-ms"), 0);
    targets = targetList(str("targets"), floorWindowMs) ?? ["banter", ...PEER_NAMES];
    floor = { windowMs: floorWindowMs, maxWindowMs: floorMaxWindowMs };
    const denoFlags = (str("deno-flags") ?? Deno.env.get("BANTER_BENCH_DENO_FLAGS") ?? "")
      .split(/\s+/).filter(Boolean);
    const serverArgs = (str("server-args") ?? Deno.env.get("BANTER_BENCH_SERVER_ARGS") ?? "")
      .split(/\s+/).filter(Boolean);
    settings = {
      workers: int("workers", 2),
      loginConcurrency: int("login-concurrency", 30),
      payloadBytes: int("bytes", 100),
      clients: int("clients", 100),
      rate: positive("rate", str("rate"), 40),
      slowRate: positive("slow-rate", str("slow-rate"), 10),
      durationMs: positive("duration", str("duration"), 10) * 1000,
      messages: int("messages", 50),
      idleSessions: int("idle-sessions", 10_000),
      smallIdleSessions: int("small-idle-sessions", 2_000),
      idleRoomSize: nonNegative("idle-room-size", str("idle-room-size"), 100),
      idleBudgetMs: positive("idle-budget", str("idle-budget"), 90) * 1000,
      stormLogins: int("storm-logins", 50),
      stormChatters: int("storm-chatters", 10),
      stormRate: positive("storm-rate", str("storm-rate"), 10),
      startupRuns: int("startup-runs", 3),
      denoFlags,
      serverArgs,
      tuned: options.tuned === true,
      profileDir: str("profile"),
    };
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  if (settings.profileDir) await Deno.mkdir(settings.profileDir, { recursive: true });
  const jsonFile = options.json as string | undefined;

  let removeFiles = async () => {};
  const onSignal = () => {
    console.error("bench: interrupted, stopping servers");
    stopAllTargets().then(() => removeFiles()).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const records: BenchRecord[] = [];
  const writeLine = async (value: unknown) => {
    const line = JSON.stringify(value);
    console.log(line);
    if (jsonFile) await Deno.writeTextFile(jsonFile, line + "\n", { append: true });
  };
  try {
    await using fixture = await createFixture({ keep: options.keep === true });
    removeFiles = async () => await fixture[Symbol.asyncDispose]();
    const info = await machine();
    await writeLine({ machine: info, settings });
    console.error(`bench: files in ${fixture.dir}`);
    if (options.cluster) {
      await runCluster(fixture, settings, {
        loads: scenarios as ClusterLoad[],
        counts: instanceCounts,
        embedded: options["no-embedded"] !== true,
        writeLine,
      });
      return 0;
    }
    const peers = targets.filter((t): t is PeerName => PEER_NAMES.includes(t as PeerName));
    const { launchers: peerList, missing } = peerLaunchers(fixture, peers);
    peerList.push(...floorLaunchers(fixture, targets, floor.windowMs, floor.maxWindowMs));
    for (const m of missing) console.error(`bench: ${m}`);
    const banter = banterLauncher(fixture, settings);
    // The same server with its clients on WebSockets (the web client's path), beside TLS.
    const banterWss = banterLauncher(fixture, settings, { websocket: true });
    const emit = async (record: BenchRecord) => {
      records.push(record);
      await writeLine(record);
    };
    for (const scenario of scenarios) {
      const wss = ["paced10", "paced", "burst", "idle2k", "idle"].includes(scenario)
        ? [banterWss]
        : [];
      const ours = targets.includes("banter") ? [banter, ...wss] : [];
      const banterOnly = scenario === "storm" || scenario === "echo";
      for (const launcher of banterOnly ? ours : [...ours, ...peerList]) {
        console.error(`bench: ${scenario} on ${launcher.name} ...`);
        const started = performance.now();
        try {
          await emit(await runScenario(scenario, launcher, settings));
        } catch (error) {
          console.error(
            `bench: ${scenario} on ${launcher.name} failed: ${
              error instanceof Error ? error.stack : error
            }`,
          );
          await emit({
            scenario,
            target: launcher.name,
            workload: {},
            notes: [`failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`],
          });
        }
        console.error(
          `bench: ${scenario} on ${launcher.name} took ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
      }
    }
    const ours = targets.includes("banter") ? "banter" : records[0]?.target;
    console.log("\n" + comparisonTable(records, ours));
    const notes = notesList(records);
    if (notes) console.log("\nNotes:\n" + notes);
  } finally {
    await stopAllTargets();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return 0;
}

/** The `--cluster` run: every load on every setup, then the tables and any loss. */
async function runCluster(
  fixture: Fixture,
  settings: BenchSettings,
  plan: {
    loads: ClusterLoad[];
    counts: number[];
    embedded: boolean;
    writeLine: (value: unknown) => Promise<void>;
  },
): Promise<void> {
  const records: ClusterRecord[] = [];
  for (const load of plan.loads) {
    for (const setup of clusterSetups(plan.counts, plan.embedded)) {
      const name = setup.mode === "embedded" ? "embedded" : `cluster-${setup.instances}`;
      console.error(`bench: ${load} on ${name} ...`);
      const started = performance.now();
      try {
        const record = await clusterChatScenario(fixture, settings, setup, load);
        records.push(record);
        await plan.writeLine(record);
      } catch (error) {
        console.error(
          `bench: ${load} on ${name} failed: ${error instanceof Error ? error.stack : error}`,
        );
        await plan.writeLine({
          scenario: "cluster",
          load,
          target: name,
          notes: [`failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`],
        });
      }
      console.error(
        `bench: ${load} on ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  console.log("\n" + clusterTable(records));
  const ratios = ratioTable(records);
  if (ratios) console.log("\n" + ratios);
  const notes = records.flatMap((r) => r.notes.map((n) => `- ${r.load}/${r.target}: ${n}`));
  if (notes.length > 0) console.log("\nNotes:\n" + notes.join("\n"));
  for (const warning of lossWarnings(records)) console.error(`bench: ${warning}`);
}

function runScenario(
  scenario: Scenario,
  launcher: Launcher,
  settings: BenchSettings,
): Promise<BenchRecord> {
  switch (scenario) {
    case "paced10":
      return chatScenario(launcher, settings, {
        mode: "paced",
        name: "paced10",
        rate: settings.slowRate,
      });
    case "paced":
    case "burst":
      return chatScenario(launcher, settings, { mode: scenario });
    case "idle2k":
      return idleScenario(launcher, settings, {
        name: "idle2k",
        sessions: settings.smallIdleSessions,
      });
    case "idle":
      return idleScenario(launcher, settings);
    case "storm":
      return stormScenario(launcher, settings);
    case "startup":
      return startupScenario(launcher, settings);
    case "echo":
      return echoScenario(launcher);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
