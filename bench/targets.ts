/**
 * The servers under test, each started as a real child process so its CPU
 * time and memory can be read from `/proc/<pid>`: Banter itself, ngIRCd over
 * TLS and `ncat --chat` over TLS. Every child is registered so that
 * {@linkcode stopAllTargets} can kill it when the bench exits or fails.
 *
 * @module
 */
import { join } from "node:path";
import type { DialectName } from "./dialects.ts";
import type { Fixture } from "./fixture.ts";

/** A started server. */
export interface Target extends AsyncDisposable {
  /** `banter`, `ngircd` or `ncat`. */
  readonly name: string;
  readonly dialect: DialectName;
  readonly pid: number;
  readonly port: number;
  /** The command line, for the report. */
  readonly command: readonly string[];
  /** ms from spawn to ready: the "listening" line, or the port accepting. */
  readonly readyMs: number;
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** Port of the V8 inspector, when started with one. */
  readonly inspectPort?: number;
  /** How the load generator reaches it: TLS lines on `port`, or WebSockets there. @default "tls" */
  readonly transport?: "tls" | "websocket";
  /** Port of Banter's /healthz and /metrics endpoint. */
  readonly httpPort?: number;
  /** How it exited, once it has. */
  exitStatus(): Deno.CommandStatus | undefined;
  /** Last lines the server printed (also saved to `<run dir>/<name>-<pid>.log` on stop). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; idempotent. */
  stop(): Promise<void>;
}

const running = new Set<Target>();

/** Stop every target still running (for exit and error paths). */
export async function stopAllTargets(): Promise<void> {
  await Promise.allSettled([...running].map((t) => t.stop()));
}

/** Banter's repository root (the parent of bench/). */
export const REPO_ROOT = new URL("..", import.meta.url).pathname;

/**
 * A port that was free a moment ago on 127.0.0.1.
 *
 * @returns A port number.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * The path of an executable, looked up in PATH and then in `extra`.
 *
 * @param name Program name.
 * @returns Its path, or `undefined` when it is not installed.
 */
export function findExecutable(name: string, extra: string[] = []): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean), ...extra];
  for (const dir of dirs) {
    try {
      const info = Deno.statSync(join(dir, name));
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return join(dir, name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
        throw error;
      }
    }
  }
  return undefined;
}

/** How to know a server is ready. */
type Readiness = { pattern: RegExp } | { tcpPort: number };

interface SpawnOptions {
  name: string;
  /** Where the output's last lines are saved when the server stops. */
  logDir: string;
  dialect: DialectName;
  command: string;
  args: string[];
  ready: Readiness;
  /** Port to use when `ready` is a pattern: its first group, else this. */
  port?: number;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

async function spawnTarget(options: SpawnOptions): Promise<Target> {
  const started = performance.now();
  const child = new Deno.Command(options.command, {
    args: options.args,
    cwd: options.cwd ?? REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  const tail: string[] = [];
  const waiter = Promise.withResolvers<{ ms: number; port: number }>();
  const ready = options.ready;
  const consume = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 5000) tail.shift();
        const match = "pattern" in ready ? ready.pattern.exec(line) : null;
        if (match) {
          waiter.resolve({
            ms: performance.now() - started,
            port: match[1] ? Number(match[1]) : options.port ?? 0,
          });
        }
      }
    }
  };
  const drained = Promise.allSettled([consume(child.stdout), consume(child.stderr)]);
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      running.delete(target);
      const status = child.status;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        child.kill("SIGTERM");
        const killed = await Promise.race([
          status.then(() => true),
          new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 5000)),
        ]);
        if (!killed) child.kill("SIGKILL");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // already exited
      } finally {
        clearTimeout(timer);
      }
      const { code, signal } = await status;
      await drained;
      await Deno.writeTextFile(
        join(options.logDir, `${options.name}-${child.pid}.log`),
        [
          `$ ${[options.command, ...options.args].join(" ")}`,
          ...tail,
          `(exit code ${code}${signal ? `, signal ${signal}` : ""})`,
          "",
        ].join("\n"),
      );
    })();
    return stopping;
  };
  const target: Target = {
    name: options.name,
    dialect: options.dialect,
    pid: child.pid,
    port: 0,
    command: [options.command, ...options.args],
    readyMs: 0,
    spawnedAt: started,
    exitStatus: () => exited,
    output: () => tail.join("\n"),
    stop,
    [Symbol.asyncDispose]: stop,
  };
  running.add(target);
  child.status.then((s) =>
    waiter.reject(new Error(`${options.name} exited with code ${s.code} before it was ready`))
  );
  if ("tcpPort" in ready) pollTcp(ready.tcpPort, started, options.timeoutMs ?? 30_000, waiter);
  const timer = setTimeout(
    () =>
      waiter.reject(
        new Error(`${options.name} was not ready within ${options.timeoutMs ?? 30_000} ms`),
      ),
    options.timeoutMs ?? 30_000,
  );
  try {
    const { ms, port } = await waiter.promise;
    return Object.assign(target, { readyMs: ms, port });
  } catch (error) {
    await stop();
    throw new Error(
      `Cannot start ${options.name}: ${(error as Error).message}\n${tail.join("\n")}`,
      {
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
  }
}

async function pollTcp(
  port: number,
  started: number,
  timeoutMs: number,
  waiter: PromiseWithResolvers<{ ms: number; port: number }>,
): Promise<void> {
  for (let i = 0; i < timeoutMs / 5; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const ms = performance.now() - started;
      conn.close();
      waiter.resolve({ ms, port });
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Options for {@linkcode startBanter}. */
export interface BanterOptions {
  /** Credentials file. */
  credentials: string;
  /** scrypt cost for new hashes; must match the users' hashes or every login rehashes. */
  scryptLogN: number;
  /** `info` prints the Listening line (used to time start-up); `warning` is quiet. */
  logLevel?: "info" | "warning";
  /** Extra flags for `deno run` (e.g. `--inspect=127.0.0.1:9229`, `--v8-flags=...`). */
  denoFlags?: string[];
  /** Extra server flags. */
  serverArgs?: string[];
  /** Start the V8 inspector on a free port (for CPU profiles). @default false */
  inspect?: boolean;
  /** Serve the web client and drive the server over WebSockets on its web port. @default false */
  websocket?: boolean;
  /**
   * The tuned configuration of round 1 (`--history-limit 0`, log level
   * `warning` unless `logLevel` says otherwise) instead of the shipped one
   * (history on in SQLite, log level `info`). @default false
   */
  tuned?: boolean;
  /** Cluster mode: the NATS URLs for `--cluster` (each instance needs its own `dataDir`, made here). */
  cluster?: string;
  /** The target's name. @default "banter" ("banter-wss" with `websocket`) */
  name?: string;
}

/**
 * Start `server.ts` as shipped (history on in SQLite, log level `info`,
 * /metrics on a free port), with the rate limits raised as they are for every
 * server and room for 20,000 connections from one address; `tuned` turns
 * history off and logs at `warning`.
 *
 * @param fixture Certificates and the run directory.
 * @param options Credentials and cost.
 * @returns The running server.
 */
export async function startBanter(fixture: Fixture, options: BanterOptions): Promise<Target> {
  const tuned = options.tuned ?? false;
  const logLevel = options.logLevel ?? (tuned ? "warning" : "info");
  const port = logLevel === "info" ? 0 : freePort();
  const data = await Deno.makeTempDir({ dir: fixture.dir, prefix: "data-" });
  const inspectPort = options.inspect ? freePort() : undefined;
  const webPort = options.websocket ? freePort() : 0;
  const httpPort = freePort();
  const name = options.name ?? (options.websocket ? "banter-wss" : "banter");
  const target = await spawnTarget({
    name,
    dialect: "banter",
    logDir: fixture.dir,
    command: Deno.execPath(),
    args: [
      "run",
      "--allow-net=127.0.0.1,localhost",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      ...(inspectPort === undefined ? [] : [`--inspect=127.0.0.1:${inspectPort}`]),
      ...(options.denoFlags ?? []),
      "server.ts",
      ...["--port", String(port), "--console", "off"],
      ...["--certs-dir", fixture.certsDir, "--credentials", options.credentials, "--data", data],
      ...["--rate-burst", "1000000", "--rate-per-second", "1000000"],
      ...(tuned ? ["--history-limit", "0"] : []),
      ...["--max-connections", "20000", "--max-connections-per-ip", "20000"],
      // The web port's own cap per address (16) would refuse most WebSocket clients.
      ...["--web-connections-per-ip", "20000"],
      // Every bench client comes from 127.0.0.1: let all their logins wait.
      ...["--login-queue", "20000", "--login-queue-per-address", "20000"],
      ...["--scrypt-log-n", String(options.scryptLogN), "--log-level", logLevel],
      // /metrics stays on, as in production, on a port of its own.
      ...["--http-port", String(httpPort)],
      ...(options.cluster === undefined
        ? []
        : ["--cluster", options.cluster, "--cluster-instance", `${name}-${httpPort}`]),
      // The web client is off unless the WebSocket target asks for it.
      ...["--web-port", String(webPort)],
      ...(options.serverArgs ?? []),
    ],
    ready: logLevel === "info"
      ? { pattern: /Listening on "?127\.0\.0\.1"?:(\d+)/ }
      // The web port opens last: once it accepts, the TLS port does too.
      : { tcpPort: options.websocket ? webPort : port },
    port,
    env: { NO_COLOR: "1" },
  });
  const extra = {
    httpPort,
    ...(inspectPort === undefined ? {} : { inspectPort }),
    ...(options.websocket ? { transport: "websocket" as const, port: webPort } : {}),
  };
  return Object.assign(target, extra);
}

/**
 * Start Debian's `nats-server` with JetStream on a free loopback port, its
 * store in a fresh directory under the run's directory (ready at its "Server
 * is ready" line).
 *
 * @param fixture The run directory.
 * @param executable Path of `nats-server`.
 * @returns The running server; `port` is its client port.
 */
export async function startNatsServer(fixture: Fixture, executable: string): Promise<Target> {
  const port = freePort();
  const store = await Deno.makeTempDir({ dir: fixture.dir, prefix: "nats-" });
  return await spawnTarget({
    name: "nats-server",
    dialect: "banter",
    logDir: fixture.dir,
    command: executable,
    args: ["-js", "-sd", store, "-a", "127.0.0.1", "-p", String(port)],
    ready: { pattern: /Server is ready/ },
    port,
  });
}

/**
 * Start ngIRCd in the foreground with TLS on our server certificate,
 * penalties off and no connection or channel limits.
 *
 * @param fixture Certificates and the run directory.
 * @param executable Path of `ngircd`.
 * @returns The running server.
 */
export async function startNgircd(fixture: Fixture, executable: string): Promise<Target> {
  const port = freePort();
  const plainPort = freePort();
  const conf = join(fixture.dir, `ngircd-${port}.conf`);
  await Deno.writeTextFile(conf, ngircdConf(fixture, port, plainPort));
  return await spawnTarget({
    name: "ngircd",
    dialect: "irc",
    logDir: fixture.dir,
    command: executable,
    args: ["-n", "-f", conf],
    ready: { pattern: /Server ".*" \(on ".*"\) ready/ },
    port,
  });
}

/**
 * The ngIRCd configuration the bench uses (documented in ngircd.conf(5)).
 *
 * @returns Config file text.
 */
export function ngircdConf(fixture: Fixture, tlsPort: number, plainPort: number): string {
  return `# Written by Banter's bench for one run.
[Global]
Name = bench.banter.local
Info = Banter benchmark peer
AdminInfo1 = bench
AdminInfo2 = bench
AdminEMail = bench@localhost
Listen = 127.0.0.1
Ports = ${plainPort}
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 16
# 0 turns flood penalties off for everyone (ngIRCd warns it is not recommended).
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
[SSL]
CertFile = ${fixture.serverCert}
KeyFile = ${fixture.serverKey}
Ports = ${tlsPort}
`;
}

/**
 * Start `ncat --chat` over TLS: every line a client sends goes to every
 * other client, prefixed with `<userN> `.
 *
 * @param fixture Certificates.
 * @param executable Path of `ncat`.
 * @returns The running server.
 */
export async function startNcat(fixture: Fixture, executable: string): Promise<Target> {
  const port = freePort();
  return await spawnTarget({
    name: "ncat",
    dialect: "ncat",
    logDir: fixture.dir,
    command: executable,
    args: [
      ...["--ssl", "--ssl-cert", fixture.serverCert, "--ssl-key", fixture.serverKey],
      ...["--chat", "--max-conns", "20000", "-v", "-l", "127.0.0.1", String(port)],
    ],
    ready: { pattern: /Listening on / },
    port,
  });
}

/** Which TLS engine the floor relay uses. */
export type FloorEngine = "node" | "deno";

/**
 * The floor target's name for an engine and window: `floor-node-w2`.
 *
 * @param engine TLS engine.
 * @param windowMs Coalescing window, ms.
 * @returns The target name.
 */
export function floorTargetName(engine: FloorEngine, windowMs: number): string {
  return `floor-${engine}-w${windowMs}`;
}

/**
 * Parse a floor target name: `floor-node`, `floor-deno` (window
 * `defaultWindowMs`) or `floor-<engine>-w<ms>`.
 *
 * @param name A target name.
 * @param defaultWindowMs Window of a name without `-w`.
 * @returns Engine and window, or `undefined` when it is no floor target.
 */
export function parseFloorTarget(
  name: string,
  defaultWindowMs: number,
): { engine: FloorEngine; windowMs: number } | undefined {
  const match = /^floor-(node|deno)(?:-w(\d+(?:\.\d+)?))?$/.exec(name);
  if (match === null) return undefined;
  return {
    engine: match[1] as FloorEngine,
    windowMs: match[2] === undefined ? defaultWindowMs : Number(match[2]),
  };
}

/**
 * Start bench/floor_relay.ts: a bare TLS line relay on `engine`, its writes
 * through the real `WriteCoalescing` (ncat's dialect: no login, no echo).
 *
 * @param fixture Certificates and the run directory.
 * @param options Engine, window and the longest (stretched) window.
 * @returns The running relay.
 */
export async function startFloorRelay(
  fixture: Fixture,
  options: { engine: FloorEngine; windowMs: number; maxWindowMs?: number },
): Promise<Target> {
  return await spawnTarget({
    name: floorTargetName(options.engine, options.windowMs),
    dialect: "ncat",
    logDir: fixture.dir,
    command: Deno.execPath(),
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "bench/floor_relay.ts",
      ...["--engine", options.engine, "--window-ms", String(options.windowMs)],
      ...["--max-window-ms", String(options.maxWindowMs ?? options.windowMs)],
      ...["--cert", fixture.serverCert, "--key", fixture.serverKey],
    ],
    ready: { pattern: /Listening on 127\.0\.0\.1:(\d+)/ },
    env: { NO_COLOR: "1" },
  });
}
