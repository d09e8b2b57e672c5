/**
 * A small Prometheus registry: counters and gauges with labels, rendered in
 * the text exposition format 0.0.4. Nothing in it knows Banter; the server's
 * own metric set is in metrics.ts. Counting is an integer increment: no
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
 * import { Registry } from "./prometheus.ts";
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
