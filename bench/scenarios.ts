/**
 * The bench scenarios. Each starts a fresh server (so peak RSS and CPU belong
 * to that scenario alone), drives it with a {@linkcode LoadGenerator} and
 * returns one {@linkcode BenchRecord}.
 *
 * @module
 */
import { Hasher } from "../lib/auth/hash.ts";
import { dialect } from "./dialects.ts";
import { BENCH_PASSWORD, type Fixture, userNames, writeCredentials } from "./fixture.ts";
import { type ClientPlan, LoadGenerator } from "./load.ts";
import { type ProcSample, sampleProcess, selfCpuMs } from "./proc_stats.ts";
import type { BenchRecord } from "./report.ts";
import { startBanter, type Target } from "./targets.ts";
import { CpuProfiler } from "./profile.ts";

/** scrypt cost of the load scenarios' users (fast logins). */
export const LOAD_LOG_N = 10;
/** The server's default scrypt cost, used by the login storm. */
export const DEFAULT_LOG_N = 17;

/** Every knob of a bench run. */
export interface BenchSettings {
  workers: number;
  /** Logins in flight per worker. */
  loginConcurrency: number;
  payloadBytes: number;
  clients: number;
  /** Paced: messages per second per client, and for how long. */
  rate: number;
  durationMs: number;
  /** Burst: messages per client. */
  messages: number;
  idleSessions: number;
  /** Idle sessions per room (0: all in one room). */
  idleRoomSize: number;
  /** Idle: no new login starts after this many ms. */
  idleBudgetMs: number;
  stormLogins: number;
  stormChatters: number;
  stormRate: number;
  startupRuns: number;
  /** Extra `deno run` flags for Banter. */
  denoFlags: string[];
  /** Extra `server.ts` flags for Banter. */
  serverArgs: string[];
  /** Banter with round 1's tuned flags (no history, log level warning), not as shipped. */
  tuned: boolean;
  /** `paced10`: messages per second per client. */
  slowRate: number;
  /** `idle2k`: sessions held. */
  smallIdleSessions: number;
  /**
   * Write CPU profiles of Banter's paced and burst runs here (and measure
   * its JS heap per idle session).
   */
  profileDir: string | undefined;
}

/** Starts one kind of server with `users` accounts at cost `logN`. */
export interface Launcher {
  name: string;
  /** The CA certificate its server certificate chains to, PEM. */
  ca: string;
  start(
    users: string[],
    logN: number,
    options?: { logLevel?: "info" | "warning" },
  ): Promise<Target>;
  /** Whether it can inspect itself with the CPU profiler. */
  profilable: boolean;
  /** Most sessions it can hold, and why; the idle scenario stays below it. */
  maxSessions?: { count: number; why: string };
}

/**
 * The Banter launcher: writes the credentials, starts `server.ts`.
 *
 * @param fixture The run's files.
 * @param settings Extra deno flags.
 * @param options `websocket`: clients come over WebSockets on the web port
 *   (the `banter-wss` target), through the same sessions as TLS ones.
 * @returns A launcher.
 */
export function banterLauncher(
  fixture: Fixture,
  settings: BenchSettings,
  options: { websocket?: boolean } = {},
): Launcher {
  let files = 0;
  const websocket = options.websocket === true;
  return {
    name: websocket ? "banter-wss" : "banter",
    ca: fixture.ca,
    profilable: true,
    async start(users, logN, options = {}) {
      const credentials = await writeCredentials(
        `${fixture.dir}/credentials-${files++}.json`,
        users,
        { logN },
      );
      return await startBanter(fixture, {
        credentials,
        scryptLogN: logN,
        ...(options.logLevel ? { logLevel: options.logLevel } : {}),
        tuned: settings.tuned,
        denoFlags: settings.denoFlags,
        serverArgs: settings.serverArgs,
        inspect: settings.profileDir !== undefined,
        websocket,
      });
    },
  };
}

/**
 * Sample a target's CPU time and memory, or say how it died.
 *
 * @param target A started server.
 * @returns Its `/proc` reading.
 * @throws {Error} When it has exited, with its exit status and last output.
 */
export async function sampleTarget(target: Target): Promise<ProcSample> {
  try {
    return await sampleProcess(target.pid);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const status = target.exitStatus();
    throw new Error(
      `${target.name} exited during the scenario (code ${status?.code ?? "?"}${
        status?.signal ? `, signal ${status.signal}` : ""
      }); last output: ${target.output().split("\n").slice(-2).join(" / ")}`,
      { cause: error },
    );
  }
}

const wallNow = () => performance.timeOrigin + performance.now();

function plans(names: string[], measure = true, roomSize = 0): ClientPlan[] {
  return names.map((name, i) => ({
    name,
    password: BENCH_PASSWORD,
    measure,
    ...(roomSize > 0 ? { room: `idle-${Math.floor(i / roomSize)}` } : {}),
  }));
}

function mib(kib: number): number {
  return kib / 1024;
}

function loginNotes(login: { failed: number; errors: string[] }): string[] {
  return login.failed > 0 ? [`${login.failed} logins failed, e.g. ${login.errors[0]}`] : [];
}

/** Options of {@linkcode chatScenario}. */
export interface ChatPlan {
  mode: "paced" | "burst";
  /** The record's scenario name. @default mode */
  name?: "paced" | "paced10" | "burst";
  /** Paced: messages/s per client. @default settings.rate */
  rate?: number;
}

/**
 * N clients log in and chat in one room, burst or paced; every delivery's
 * end-to-end latency is measured.
 *
 * @param launcher The server.
 * @param settings Workload.
 * @param plan Burst or paced.
 * @returns The record.
 */
export async function chatScenario(
  launcher: Launcher,
  settings: BenchSettings,
  plan: ChatPlan,
): Promise<BenchRecord> {
  const names = userNames("u", settings.clients);
  const rate = plan.rate ?? settings.rate;
  await using target = await launcher.start(names, LOAD_LOG_N);
  await using load = await LoadGenerator.start({
    dialect: target.dialect,
    port: target.port,
    ca: launcher.ca,
    payloadBytes: settings.payloadBytes,
    workers: settings.workers,
    ...(target.transport === undefined ? {} : { transport: target.transport }),
  });
  const login = await load.connect(plans(names), { concurrency: settings.loginConcurrency });
  const notes = loginNotes(login);
  const inRoom = login.ok;
  const recipients = target.dialect === "banter" ? inRoom : inRoom - 1;
  if (target.dialect !== "banter") {
    notes.push(`no echo to the sender: expected = sent × ${recipients} (clients − 1)`);
  }
  // Let join traffic settle, then count from zero.
  await load.settle(Number.POSITIVE_INFINITY, {
    quietMs: 300,
    timeoutMs: 10_000,
    field: "bytesIn",
  });
  await load.stats({ reset: true, histogram: false });
  const profiler = settings.profileDir && launcher.profilable
    ? await CpuProfiler.attach(target)
    : undefined;
  await profiler?.start();
  const before = await sampleTarget(target);
  const genBefore = selfCpuMs();
  const startedAt = wallNow();
  const sendReport = plan.mode === "burst"
    ? await load.burst(settings.messages)
    : await load.paced(rate, settings.durationMs);
  const expected = sendReport.sent * recipients;
  const settled = await load.settle(expected, {
    quietMs: 2000,
    timeoutMs: plan.mode === "burst" ? 60_000 : 30_000,
  });
  const after = await sampleTarget(target);
  const genAfter = selfCpuMs();
  const endedAt = wallNow();
  if (profiler) {
    notes.push(
      ...await profiler.stopAndSave(
        `${settings.profileDir}/${launcher.name}-${plan.name ?? plan.mode}.cpuprofile`,
      ),
    );
  }
  const stats = await load.stats();
  if (stats.received < expected && await load.nudge() > 0) {
    const late = await load.settle(expected, { quietMs: 2000, timeoutMs: 15_000 });
    notes.push(
      `${late.received - stats.received} of the ${
        expected - stats.received
      } lost deliveries arrived after every client sent one more line (${
        JSON.stringify(dialectNudge(target))
      }); figures are from before that`,
    );
  }
  const activeMs = Math.max(1, (stats.lastAt || endedAt) - startedAt);
  const windowMs = Math.max(1, endedAt - startedAt);
  if (settled.dropped > 0) {
    notes.push(`${settled.dropped} clients were disconnected: ${stats.errors[0]}`);
  }
  if (sendReport.skipped > 0) {
    notes.push(
      `${sendReport.skipped} paced ticks found a client still writing (sending fell behind)`,
    );
  }
  return {
    scenario: plan.name ?? plan.mode,
    target: target.name,
    workload: plan.mode === "burst"
      ? { clients: settings.clients, messages: settings.messages, bytes: settings.payloadBytes }
      : {
        clients: settings.clients,
        ratePerClient: rate,
        durationS: settings.durationMs / 1000,
        bytes: settings.payloadBytes,
        offeredDeliveriesPerSec: settings.clients * rate * recipients,
      },
    clients: inRoom,
    loginWallMs: login.wallMs,
    loginFailed: login.failed,
    sent: sendReport.sent,
    expected,
    received: stats.received,
    lost: expected - stats.received,
    deliveriesPerSec: stats.received / (activeMs / 1000),
    latency: stats.histogram.summary(),
    ...cpuFigures(before, after, genBefore, genAfter, windowMs, stats.received),
    peakRssMiB: mib(after.hwmKiB),
    notes,
  };
}

function dialectNudge(target: Target): string {
  return dialect(target.dialect).nudge?.trim() ?? "";
}

function cpuFigures(
  before: ProcSample,
  after: ProcSample,
  genBefore: number,
  genAfter: number,
  windowMs: number,
  deliveries: number,
) {
  const serverCpuMs = after.cpuMs - before.cpuMs;
  const generatorCpuMs = genAfter - genBefore;
  const otherCpuMs = after.machineTaskMs - before.machineTaskMs - serverCpuMs - generatorCpuMs;
  const irqCpuMs = after.machineIrqMs - before.machineIrqMs;
  return {
    serverCpuMs,
    serverCpuPct: (100 * serverCpuMs) / windowMs,
    serverCpuUsPerDelivery: deliveries > 0 ? (serverCpuMs * 1000) / deliveries : NaN,
    generatorCpuMs,
    generatorCpuPct: (100 * generatorCpuMs) / windowMs,
    otherCpuPct: Math.max(0, (100 * otherCpuMs) / windowMs),
    irqCpuPct: (100 * irqCpuMs) / windowMs,
  };
}

/**
 * Hold N logged-in sessions, `idleRoomSize` to a room (every join is
 * announced to the room, so one room of N costs O(N²) messages), and report
 * memory per session: (RSS after − RSS before) / N, once the join traffic
 * has died down. Logins stop starting after `idleBudgetMs`.
 *
 * @param launcher The server.
 * @param settings Session count and login concurrency.
 * @returns The record.
 */
export async function idleScenario(
  launcher: Launcher,
  settings: BenchSettings,
  plan: { name: "idle" | "idle2k"; sessions: number } = {
    name: "idle",
    sessions: settings.idleSessions,
  },
): Promise<BenchRecord> {
  const cap = launcher.maxSessions;
  const sessions = cap ? Math.min(cap.count, plan.sessions) : plan.sessions;
  const names = userNames("i", sessions);
  await using target = await launcher.start(names, LOAD_LOG_N);
  // Banter checks a scrypt hash per login (on its hashing threads, so a
  // CPU profile of its main thread does not show it); the peers check none.
  const hashCpuMs = target.dialect === "banter" ? await oneHashCpuMs(LOAD_LOG_N) : undefined;
  await using load = await LoadGenerator.start({
    dialect: target.dialect,
    port: target.port,
    ca: launcher.ca,
    workers: settings.workers,
    ...(target.transport === undefined ? {} : { transport: target.transport }),
  });
  // Measurement, not synchronisation: let the fresh server's start-up
  // allocations settle before the RSS baseline is taken.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const inspector = settings.profileDir && launcher.profilable
    ? await CpuProfiler.attach(target)
    : undefined;
  const heapBefore = await inspector?.heapUsage();
  // A second inspector session profiles the logins' CPU.
  const loginProfiler = inspector ? await CpuProfiler.attach(target) : undefined;
  await loginProfiler?.start();
  const before = await sampleTarget(target);
  const genBefore = selfCpuMs();
  const started = performance.now();
  const login = await load.connect(plans(names, true, settings.idleRoomSize), {
    concurrency: settings.loginConcurrency,
    timeoutMs: 120_000,
    budgetMs: settings.idleBudgetMs,
  });
  const loggedIn = await sampleTarget(target);
  const genLoggedIn = selfCpuMs();
  const loginWindow = performance.now() - started;
  const loginProfile = loginProfiler
    ? await loginProfiler.stopAndSave(
      `${settings.profileDir}/${launcher.name}-${plan.name}-logins.cpuprofile`,
    )
    : [];
  // Every join is announced to the room: wait for that traffic to stop.
  const settled = await load.settle(Number.POSITIVE_INFINITY, {
    quietMs: 2000,
    timeoutMs: 90_000,
    field: "bytesIn",
  });
  const after = await sampleTarget(target);
  const notes = [...loginNotes(login), ...loginProfile];
  if (inspector && heapBefore && login.ok > 0) {
    const heapAfter = await inspector.heapUsage();
    inspector.close();
    const perSession = (bytes: number) => bytes / 1024 / login.ok;
    const jsKiB = perSession(heapAfter.usedBytes - heapBefore.usedBytes);
    const committedKiB = perSession(heapAfter.totalBytes - heapBefore.totalBytes);
    const externalKiB = perSession(heapAfter.externalBytes - heapBefore.externalBytes);
    notes.push(
      `V8 heap after GC grew ${format(jsKiB)} KiB per session (committed heap ${
        format(committedKiB)
      } KiB, external/array buffers ${format(externalKiB)} KiB); the rest of the RSS growth (${
        format((after.rssKiB - before.rssKiB) / login.ok - committedKiB - externalKiB)
      } KiB per session) is outside V8 (TLS state, socket buffers, allocator)`,
    );
  }
  if (sessions < plan.sessions) {
    notes.push(`held at most ${sessions} sessions: ${cap!.why}`);
  }
  if (login.skipped > 0) {
    notes.push(
      `${login.skipped} of ${names.length} sessions not tried: the ${
        settings.idleBudgetMs / 1000
      } s login budget ran out`,
    );
  }
  notes.push(
    `join/presence traffic to clients: ${format(settled.bytesIn / 2 ** 20)} MiB in ${
      format(settled.controlLines)
    } lines; settled ${
      format((performance.now() - started - loginWindow) / 1000)
    } s after the last login`,
  );
  if (settled.dropped > 0) {
    notes.push(`${settled.dropped} sessions dropped while idle: ${settled.errors[0]}`);
  }
  const cpu = cpuFigures(before, loggedIn, genBefore, genLoggedIn, loginWindow, 0);
  return {
    scenario: plan.name,
    target: target.name,
    workload: {
      sessions: plan.sessions,
      roomSize: settings.idleRoomSize === 0 ? plan.sessions : settings.idleRoomSize,
      loginConcurrency: settings.loginConcurrency * settings.workers,
      budgetS: settings.idleBudgetMs / 1000,
    },
    clients: login.ok,
    loginWallMs: login.wallMs,
    loginLatency: login.latency.summary(),
    loginFailed: login.failed,
    serverCpuMs: cpu.serverCpuMs,
    serverCpuMsPerLogin: login.ok > 0 ? cpu.serverCpuMs / login.ok : NaN,
    ...(hashCpuMs === undefined ? {} : { hashCpuMs }),
    serverCpuMsPerLoginBesidesHash: login.ok > 0
      ? cpu.serverCpuMs / login.ok - (hashCpuMs ?? 0)
      : NaN,
    serverCpuPct: cpu.serverCpuPct,
    generatorCpuMs: cpu.generatorCpuMs,
    generatorCpuPct: cpu.generatorCpuPct,
    otherCpuPct: cpu.otherCpuPct,
    irqCpuPct: cpu.irqCpuPct,
    rssBeforeMiB: mib(before.rssKiB),
    rssAfterMiB: mib(after.rssKiB),
    rssPerSessionKiB: login.ok > 0 ? (after.rssKiB - before.rssKiB) / login.ok : NaN,
    peakRssMiB: mib(after.hwmKiB),
    notes,
  };
}

function format(n: number): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: 1 });
}

/**
 * CPU of one scrypt verification at `logN` in this process (every thread:
 * the hash runs on a worker thread), the median of `runs`.
 *
 * @returns CPU ms.
 */
export async function oneHashCpuMs(logN: number, runs = 21): Promise<number> {
  const hasher = new Hasher({ params: { logN, r: 8, p: 1 } });
  const stored = await hasher.hash(BENCH_PASSWORD);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = selfCpuMs();
    await hasher.verify(BENCH_PASSWORD, stored);
    times.push(selfCpuMs() - before);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

/**
 * Time one scrypt verification at `logN` in this process.
 *
 * @returns Mean ms of `runs` sequential verifications.
 */
export async function oneHashMs(logN: number, runs = 3): Promise<number> {
  const hasher = new Hasher({ params: { logN, r: 8, p: 1 } });
  const stored = await hasher.hash(BENCH_PASSWORD);
  const started = performance.now();
  for (let i = 0; i < runs; i++) await hasher.verify(BENCH_PASSWORD, stored);
  return (performance.now() - started) / runs;
}

/**
 * Login storm: `stormLogins` clients log in at once at the default scrypt
 * cost while `stormChatters` users chat; reports logins/s against the
 * ceiling (cores ÷ one hash time) and the chatters' latency before and
 * during the storm.
 *
 * @param launcher Banter's launcher.
 * @param settings Storm size and chat rate.
 * @returns The record.
 */
export async function stormScenario(
  launcher: Launcher,
  settings: BenchSettings,
): Promise<BenchRecord> {
  const hashMs = await oneHashMs(DEFAULT_LOG_N);
  const chatters = userNames("c", settings.stormChatters);
  const stormers = userNames("s", settings.stormLogins);
  await using target = await launcher.start([...chatters, ...stormers], DEFAULT_LOG_N);
  const ca = launcher.ca;
  await using chat = await LoadGenerator.start({
    dialect: "banter",
    port: target.port,
    ca,
    workers: 1,
  });
  await using storm = await LoadGenerator.start({
    dialect: "banter",
    port: target.port,
    ca,
    workers: 1,
  });
  const chatLogin = await chat.connect(plans(chatters), { concurrency: settings.stormChatters });
  const notes = loginNotes(chatLogin);
  await chat.settle(Number.POSITIVE_INFINITY, { quietMs: 300, timeoutMs: 5000, field: "bytesIn" });
  await chat.stats({ reset: true });
  const sending = chat.paced(settings.stormRate, 120_000);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const baseline = (await chat.stats({ reset: true })).histogram.summary();
  const before = await sampleTarget(target);
  const genBefore = selfCpuMs();
  const login = await storm.connect(plans(stormers, false), {
    concurrency: settings.stormLogins,
    timeoutMs: 120_000,
  });
  const after = await sampleTarget(target);
  const genAfter = selfCpuMs();
  const during = (await chat.stats({ reset: true })).histogram.summary();
  const cpu = cpuFigures(before, after, genBefore, genAfter, login.wallMs, 0);
  await chat.stop();
  await sending;
  notes.push(...loginNotes(login));
  const cores = navigator.hardwareConcurrency || 2;
  const loginsPerSec = login.ok / (login.wallMs / 1000);
  const ceiling = cores / (hashMs / 1000);
  notes.push(
    `ceiling = ${cores} cores (the server's Hasher runs at most navigator.hardwareConcurrency hashes at once) / one ${
      format(hashMs)
    } ms scrypt (logN ${DEFAULT_LOG_N}); reached ${format((100 * loginsPerSec) / ceiling)} % of it`,
  );
  return {
    scenario: "storm",
    target: target.name,
    workload: {
      logins: settings.stormLogins,
      chatters: settings.stormChatters,
      chatRatePerClient: settings.stormRate,
      logN: DEFAULT_LOG_N,
    },
    clients: login.ok,
    loginWallMs: login.wallMs,
    loginLatency: login.latency.summary(),
    loginFailed: login.failed,
    serverCpuMs: cpu.serverCpuMs,
    serverCpuPct: cpu.serverCpuPct,
    generatorCpuPct: cpu.generatorCpuPct,
    otherCpuPct: cpu.otherCpuPct,
    irqCpuPct: cpu.irqCpuPct,
    peakRssMiB: mib(after.hwmKiB),
    storm: {
      hashMs,
      cores,
      loginsPerSec,
      ceilingLoginsPerSec: ceiling,
      baselineP50Ms: baseline.p50Ms,
      baselineP99Ms: baseline.p99Ms,
      stormP50Ms: during.p50Ms,
      stormP99Ms: during.p99Ms,
      stormMaxMs: during.maxMs,
      chatDeliveriesDuringStorm: during.count,
    },
    notes,
  };
}

/**
 * Start-up: spawn to the listening line, and spawn to the first completed
 * TLS handshake; median of `startupRuns` starts.
 *
 * @param launcher The server.
 * @param settings How many starts.
 * @returns The record.
 */
export async function startupScenario(
  launcher: Launcher,
  settings: BenchSettings,
): Promise<BenchRecord> {
  const listening: number[] = [];
  const handshake: number[] = [];
  const ca = launcher.ca;
  for (let run = 0; run < settings.startupRuns; run++) {
    await using target = await launcher.start(["u0"], LOAD_LOG_N, { logLevel: "info" });
    listening.push(target.readyMs);
    handshake.push(await firstHandshake(target, ca) - target.spawnedAt);
  }
  return {
    scenario: "startup",
    target: launcher.name,
    workload: { runs: settings.startupRuns },
    listeningMs: median(listening),
    firstHandshakeMs: median(handshake),
    notes: [
      `runs: listening ${listening.map((n) => n.toFixed(0)).join(", ")} ms; handshake ${
        handshake.map((n) => n.toFixed(0)).join(", ")
      } ms`,
    ],
  };
}

async function firstHandshake(target: Target, ca: string): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    try {
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: target.port,
        caCerts: [ca],
      });
      try {
        await conn.handshake();
        return performance.now();
      } finally {
        conn.close();
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`Cannot complete a TLS handshake with ${target.name}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
