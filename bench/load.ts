/**
 * The load generator: spreads clients over Deno Workers (threads) so the
 * generator is not the bottleneck, and merges what they measured.
 *
 * @module
 */
import type {
  ClientPlan,
  ConnectReport,
  SendReport,
  WorkerReply,
  WorkerRequest,
  WorkerSetup,
  WorkerStats,
} from "./_load_messages.ts";
import type { DialectName } from "./dialects.ts";
import { LatencyHistogram } from "./histogram.ts";

export type { ClientPlan } from "./_load_messages.ts";

/** Options for {@linkcode LoadGenerator.start}. */
export interface LoadOptions {
  dialect: DialectName;
  port: number;
  /** CA certificate that signed the server's, PEM. */
  ca: string;
  /** Name the server certificate is checked against. @default "localhost" */
  hostname?: string;
  /** Chat payload length. @default 100 */
  payloadBytes?: number;
  /** Worker threads. @default 2 */
  workers?: number;
  /** TLS lines, or WebSocket messages (`port` is then Banter's web port). @default "tls" */
  transport?: "tls" | "websocket";
}

/** Merged counters of every worker. */
export interface LoadStats {
  received: number;
  receivedOther: number;
  controlLines: number;
  bytesIn: number;
  lastAt: number;
  dropped: number;
  errors: string[];
  histogram: LatencyHistogram;
}

/** Merged result of logging clients in. */
export interface LoginReport {
  ok: number;
  failed: number;
  /** Not tried: the time budget ran out first. */
  skipped: number;
  errors: string[];
  /** Wall time until the last client was in, ms. */
  wallMs: number;
  /** Per-login times. */
  latency: LatencyHistogram;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

class WorkerHandle {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor() {
    this.#worker = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(new Error(reply.error));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      for (const p of this.#pending.values()) {
        p.reject(new Error(`Load worker failed: ${event.message}`));
      }
      this.#pending.clear();
    };
  }

  call<T>(request: DistributiveOmit<WorkerRequest, "id">): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  terminate(): void {
    this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(new Error("Load worker terminated"));
    this.#pending.clear();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Clients spread round-robin over worker threads.
 *
 * @example Log 10 clients in and burst (needs a running server)
 * ```ts ignore
 * await using load = await LoadGenerator.start({ dialect: "banter", port, ca });
 * await load.connect(users.map((u) => ({ ...u, measure: true })));
 * await load.burst(50);
 * ```
 */
export class LoadGenerator implements AsyncDisposable {
  readonly #workers: WorkerHandle[];

  private constructor(workers: WorkerHandle[]) {
    this.#workers = workers;
  }

  /**
   * Start the workers.
   *
   * @param options Target, wire and thread count.
   * @returns A generator with no clients yet.
   */
  static async start(options: LoadOptions): Promise<LoadGenerator> {
    const count = options.workers ?? 2;
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`Cannot start load generator: workers is ${count}`);
    }
    const workers = Array.from({ length: count }, () => new WorkerHandle());
    const generator = new LoadGenerator(workers);
    try {
      await Promise.all(workers.map((w, index) => {
        const setup: WorkerSetup = {
          dialect: options.dialect,
          hostname: options.hostname ?? "localhost",
          port: options.port,
          ca: options.ca,
          transport: options.transport ?? "tls",
          payloadBytes: options.payloadBytes ?? 100,
          index,
          workers: count,
        };
        return w.call({ op: "init", setup });
      }));
    } catch (error) {
      generator.terminate();
      throw error;
    }
    return generator;
  }

  /**
   * Log clients in, `concurrency` at a time per worker.
   *
   * @param clients Accounts, round-robin over the workers.
   * @param options Concurrency per worker, the per-login timeout, and a
   * budget after which no new login starts.
   * @returns Counts, wall time and per-login latency.
   */
  async connect(
    clients: ClientPlan[],
    options: { concurrency?: number; timeoutMs?: number; budgetMs?: number } = {},
  ): Promise<LoginReport> {
    const shares: ClientPlan[][] = this.#workers.map(() => []);
    clients.forEach((c, i) => shares[i % shares.length]!.push(c));
    const started = performance.now();
    const reports = await Promise.all(this.#workers.map((w, i) =>
      w.call<ConnectReport>({
        op: "connect",
        clients: shares[i]!,
        concurrency: options.concurrency ?? 30,
        timeoutMs: options.timeoutMs ?? 60_000,
        deadline: performance.timeOrigin + performance.now() + (options.budgetMs ?? 600_000),
      })
    ));
    const wallMs = performance.now() - started;
    const latency = new LatencyHistogram();
    for (const r of reports) for (const ms of r.loginMs) latency.record(ms);
    return {
      ok: reports.reduce((n, r) => n + r.ok, 0),
      failed: reports.reduce((n, r) => n + r.failed, 0),
      skipped: reports.reduce((n, r) => n + r.skipped, 0),
      errors: reports.flatMap((r) => r.errors).slice(0, 5),
      wallMs,
      latency,
    };
  }

  /** Every measured client writes `messages` chat lines at once. */
  async burst(messages: number): Promise<SendReport> {
    return sum(
      await Promise.all(this.#workers.map((w) => w.call<SendReport>({ op: "burst", messages }))),
    );
  }

  /**
   * Every measured client sends `rate` lines per second for `durationMs`.
   *
   * @returns When every line has been handed to the socket (or 2 s late).
   */
  async paced(rate: number, durationMs: number): Promise<SendReport> {
    const startAt = performance.timeOrigin + performance.now() + 20;
    return sum(
      await Promise.all(
        this.#workers.map((w) => w.call<SendReport>({ op: "paced", rate, durationMs, startAt })),
      ),
    );
  }

  /**
   * Every measured client sends its dialect's harmless line (IRC: PING).
   *
   * @returns How many clients did; 0 when the dialect has none.
   */
  async nudge(): Promise<number> {
    const counts = await Promise.all(this.#workers.map((w) => w.call<number>({ op: "nudge" })));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** End paced sending at the workers' next tick. */
  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.call({ op: "stop" })));
  }

  /**
   * Merged counters.
   *
   * @param options `reset` zeroes counters and latencies after reading.
   */
  async stats(options: { reset?: boolean; histogram?: boolean } = {}): Promise<LoadStats> {
    const parts = await Promise.all(this.#workers.map((w) =>
      w.call<WorkerStats>({
        op: "stats",
        reset: options.reset ?? false,
        histogram: options.histogram ?? true,
      })
    ));
    const histogram = new LatencyHistogram();
    for (const p of parts) if (p.histogram) histogram.merge(p.histogram);
    return {
      received: parts.reduce((n, p) => n + p.received, 0),
      receivedOther: parts.reduce((n, p) => n + p.receivedOther, 0),
      controlLines: parts.reduce((n, p) => n + p.controlLines, 0),
      bytesIn: parts.reduce((n, p) => n + p.bytesIn, 0),
      lastAt: Math.max(...parts.map((p) => p.lastAt)),
      dropped: parts.reduce((n, p) => n + p.dropped, 0),
      errors: parts.flatMap((p) => p.errors).slice(0, 5),
      histogram,
    };
  }

  /**
   * Wait until `expected` deliveries arrived, nothing arrived for `quietMs`,
   * or `timeoutMs` passed.
   *
   * @returns The last counters read (without latencies).
   */
  async settle(
    expected: number,
    options: { quietMs?: number; timeoutMs?: number; field?: "received" | "bytesIn" } = {},
  ): Promise<LoadStats> {
    const quietMs = options.quietMs ?? 2000;
    const deadline = performance.now() + (options.timeoutMs ?? 30_000);
    const field = options.field ?? "received";
    let last = -1;
    let lastChange = performance.now();
    for (;;) {
      const s = await this.stats({ histogram: false });
      if (field === "received" && s.received >= expected) return s;
      if (s[field] !== last) {
        last = s[field];
        lastChange = performance.now();
      }
      if (performance.now() - lastChange >= quietMs || performance.now() >= deadline) return s;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Close every client (workers keep running). */
  async closeClients(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.call({ op: "close" })));
  }

  /** Stop the workers at once; their sockets close with them. */
  terminate(): void {
    for (const w of this.#workers) w.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.closeClients(),
        new Promise((resolve) => timer = setTimeout(resolve, 3000)),
      ]);
    } finally {
      clearTimeout(timer);
      this.terminate();
    }
  }
}

function sum(reports: SendReport[]): SendReport {
  return {
    sent: reports.reduce((n, r) => n + r.sent, 0),
    skipped: reports.reduce((n, r) => n + r.skipped, 0),
  };
}
