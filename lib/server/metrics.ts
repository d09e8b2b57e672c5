/**
 * Prometheus metrics: a small registry of counters and gauges with labels,
 * rendered in the text exposition format 0.0.4, Banter's own set of metrics,
 * and an event-loop lag probe. Counting is an integer increment: no
 * allocation per event, so it can sit on the per-message path.
 *
 * @module
 */

/** `Content-Type` of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label names and values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** Name, help and labels of one series. */
export interface MetricOptions {
  /** Metric name, e.g. `banter_logins_total`. */
  name: string;
  /** One line describing it; shared by every series of the name. */
  help: string;
  /** Labels of this series. @default {} */
  labels?: Labels;
}

/** A value that only goes up. */
export class Counter {
  #value = 0;

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /**
   * Add to the counter.
   *
   * @param by A non-negative amount. @default 1
   * @throws {RangeError} When `by` is negative or not a number.
   */
  inc(by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Cannot increase a counter by ${by}`);
    this.#value += by;
  }
}

/** A value that goes up and down. */
export class Gauge {
  #value = 0;

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /** Set the value. */
  set(value: number): void {
    this.#value = value;
  }

  /** Add one (or `by`). */
  inc(by = 1): void {
    this.#value += by;
  }

  /** Subtract one (or `by`). */
  dec(by = 1): void {
    this.#value -= by;
  }
}

interface Family {
  readonly type: "counter" | "gauge";
  readonly help: string;
  /** Rendered label sets (`{a="b"}` or "") to their metric. */
  readonly series: Map<string, Counter | Gauge>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function renderLabels(labels: Labels): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new TypeError(`Cannot register metric: invalid label name "${name}"`);
    }
    parts.push(`${name}="${escapeLabelValue(value)}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Metrics by name, rendered for a Prometheus scrape.
 *
 * @example Usage
 * ```ts
 * import { Registry } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new Registry();
 * registry.counter({ name: "jobs_total", help: "Jobs done", labels: { result: "ok" } }).inc();
 * assert.equal(
 *   registry.render(),
 *   '# HELP jobs_total Jobs done\n# TYPE jobs_total counter\njobs_total{result="ok"} 1\n',
 * );
 * ```
 */
export class Registry {
  readonly #families = new Map<string, Family>();

  /**
   * Register a counter series.
   *
   * @param options Name, help, labels.
   * @returns The counter.
   * @throws {TypeError} For an invalid name, a name registered as another
   * type or with other help, or a series registered twice.
   */
  counter(options: MetricOptions): Counter {
    return this.#register(options, "counter", new Counter());
  }

  /**
   * Register a gauge series.
   *
   * @param options Name, help, labels.
   * @returns The gauge.
   * @throws {TypeError} As for {@linkcode Registry.counter}.
   */
  gauge(options: MetricOptions): Gauge {
    return this.#register(options, "gauge", new Gauge());
  }

  #register<T extends Counter | Gauge>(
    options: MetricOptions,
    type: Family["type"],
    metric: T,
  ): T {
    const { name, help } = options;
    if (!NAME.test(name)) {
      throw new TypeError(`Cannot register metric: invalid name "${name}"`);
    }
    let family = this.#families.get(name);
    if (family === undefined) {
      family = { type, help, series: new Map() };
      this.#families.set(name, family);
    } else if (family.type !== type || family.help !== help) {
      throw new TypeError(`Cannot register metric: ${name} is already a different ${family.type}`);
    }
    const labels = renderLabels(options.labels ?? {});
    if (family.series.has(labels)) {
      throw new TypeError(`Cannot register metric: ${name}${labels} exists`);
    }
    family.series.set(labels, metric);
    return metric;
  }

  /**
   * Every metric in the text exposition format 0.0.4.
   *
   * @returns `# HELP` and `# TYPE` lines, then one line per series.
   */
  render(): string {
    let out = "";
    for (const [name, family] of this.#families) {
      const help = family.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
      out += `# HELP ${name} ${help}\n# TYPE ${name} ${family.type}\n`;
      for (const [labels, metric] of family.series) {
        out += `${name}${labels} ${renderValue(metric.value)}\n`;
      }
    }
    return out;
  }
}

/** How a joke request ended: from the service, or why a built-in one was told. */
export const JOKE_OUTCOMES = [
  "api",
  "timeout",
  "http_error",
  "not_a_joke",
  "too_much",
  "unreachable",
  "unresolvable",
  "aborted",
  "error",
] as const;

/** One of {@linkcode JOKE_OUTCOMES}. */
export type JokeOutcome = typeof JOKE_OUTCOMES[number];

/** The server's metrics, each a series of {@linkcode ServerMetrics.registry}. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** `banter_connections_open`: handshaken connections not yet closed. */
  readonly connectionsOpen: Gauge;
  /** `banter_tls_handshakes_failed_total`. */
  readonly handshakesFailed: Counter;
  /** `banter_logins_total{result="ok"}`, password or certificate. */
  readonly loginsOk: Counter;
  /** `banter_logins_total{result="failed"}`, including attempts while locked. */
  readonly loginsFailed: Counter;
  /** `banter_lockouts_total{scope}`: locks started, per account or address. */
  readonly lockouts: Readonly<Record<"account" | "ip", Counter>>;
  /** `banter_messages_received_total`: `say` frames from logged-in users. */
  readonly messagesIn: Counter;
  /** `banter_messages_delivered_total`: chat events queued for a client. */
  readonly messagesOut: Counter;
  /** `banter_backpressure_drops_total`: clients dropped for not reading. */
  readonly backpressureDrops: Counter;
  /** `banter_joke_fetches_total{outcome}`. */
  readonly jokes: Readonly<Record<JokeOutcome, Counter>>;
  /** `banter_event_loop_lag_seconds`: the last timer's delay. */
  readonly eventLoopLag: Gauge;
  /** `banter_lockout_alerts_total{result}`: alert mails sent, failed, dropped. */
  readonly alerts: Readonly<Record<"sent" | "failed" | "dropped", Counter>>;
}

function labelled<K extends string>(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  values: readonly K[],
): Record<K, Counter> {
  const out = {} as Record<K, Counter>;
  for (const value of values) {
    out[value] = registry.counter({ name, help, labels: { [label]: value } });
  }
  return out;
}

/**
 * Create the server's metrics in a new registry; every series starts at 0.
 *
 * @returns The metrics.
 *
 * @example Usage
 * ```ts
 * import { createServerMetrics } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const metrics = createServerMetrics();
 * metrics.loginsOk.inc();
 * assert.match(metrics.registry.render(), /^banter_logins_total\{result="ok"\} 1$/m);
 * ```
 */
export function createServerMetrics(): ServerMetrics {
  const registry = new Registry();
  const logins = labelled(registry, "banter_logins_total", "Login attempts", "result", [
    "ok",
    "failed",
  ]);
  return {
    registry,
    connectionsOpen: registry.gauge({
      name: "banter_connections_open",
      help: "Handshaken TLS connections now open",
    }),
    handshakesFailed: registry.counter({
      name: "banter_tls_handshakes_failed_total",
      help: "TLS handshakes that failed or timed out",
    }),
    loginsOk: logins.ok,
    loginsFailed: logins.failed,
    lockouts: labelled(
      registry,
      "banter_lockouts_total",
      "Lockouts started after failed logins",
      "scope",
      ["account", "ip"],
    ),
    messagesIn: registry.counter({
      name: "banter_messages_received_total",
      help: "Chat lines received from logged-in users",
    }),
    messagesOut: registry.counter({
      name: "banter_messages_delivered_total",
      help: "Chat events queued for delivery to a client",
    }),
    backpressureDrops: registry.counter({
      name: "banter_backpressure_drops_total",
      help: "Clients dropped because they did not read fast enough",
    }),
    jokes: labelled(
      registry,
      "banter_joke_fetches_total",
      "Joke requests by outcome (api, or why a built-in joke was told)",
      "outcome",
      JOKE_OUTCOMES,
    ),
    eventLoopLag: registry.gauge({
      name: "banter_event_loop_lag_seconds",
      help: "How late the last event-loop probe timer fired",
    }),
    alerts: labelled(
      registry,
      "banter_lockout_alerts_total",
      "Lockout alert mails by result",
      "result",
      ["sent", "failed", "dropped"],
    ),
  };
}

/** Timer functions, injected so tests can fire ticks themselves. */
export interface Timers {
  /** Returns an id for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Options for {@linkcode monitorEventLoopLag}. */
export interface LagMonitorOptions {
  /** Time between probes. @default 1000 */
  intervalMs?: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
  /** @default the global setTimeout and clearTimeout */
  timers?: Timers;
}

/**
 * Measure event-loop lag: a timer that expects to fire every `intervalMs`
 * sets `gauge` to how late it fired, in seconds.
 *
 * @param gauge Receives the lag in seconds.
 * @param options Interval, clock, timers.
 * @returns Stops the probe.
 * @throws {RangeError} When `intervalMs` is not positive.
 */
export function monitorEventLoopLag(gauge: Gauge, options: LagMonitorOptions = {}): Disposable {
  const intervalMs = options.intervalMs ?? 1000;
  if (!(intervalMs > 0)) {
    throw new RangeError(`Cannot monitor event-loop lag: intervalMs is ${intervalMs}`);
  }
  const now = options.now ?? (() => performance.now());
  const timers = options.timers ?? {
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  };
  let due = now() + intervalMs;
  let stopped = false;
  const tick = () => {
    const at = now();
    gauge.set(Math.max(0, at - due) / 1000);
    due = at + intervalMs;
    if (!stopped) id = timers.setTimeout(tick, intervalMs);
  };
  let id = timers.setTimeout(tick, intervalMs);
  return {
    [Symbol.dispose]() {
      stopped = true;
      timers.clearTimeout(id);
    },
  };
}
