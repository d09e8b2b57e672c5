/**
 * Banter's metrics: the set of series the server counts (see
 * prometheus.ts for the registry they live in) and an event-loop lag probe.
 *
 * @module
 */
import { systemClock, type Timers } from "../util/clock.ts";
import { type Counter, type Gauge, Registry } from "./prometheus.ts";

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

/**
 * Why a connection was refused: by the pending-handshake caps (the address
 * was at its cap, the pool was full, or it was evicted for a lighter
 * network) or, after the handshake, by admission (the address or the server
 * at its connection cap).
 */
export const REFUSAL_REASONS = [
  "handshake_per_address",
  "handshake_pool_full",
  "handshake_evicted",
  "per_address",
  "server_full",
] as const;

/** One of {@linkcode REFUSAL_REASONS}. */
export type RefusalReason = typeof REFUSAL_REASONS[number];

/** The server's metrics, each a series of {@linkcode ServerMetrics.registry}. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** `banter_connections_open`: handshaken connections not yet closed. */
  readonly connectionsOpen: Gauge;
  /** `banter_tls_handshakes_failed_total`: failed or timed out, not refused. */
  readonly handshakesFailed: Counter;
  /** `banter_connections_refused_total{reason}`: closed by a cap, each once. */
  readonly refused: Readonly<Record<RefusalReason, Counter>>;
  /** `banter_logins_total{result="ok"}`, password or certificate. */
  readonly loginsOk: Counter;
  /** `banter_logins_total{result="failed"}`, including attempts while locked. */
  readonly loginsFailed: Counter;
  /** `banter_logins_total{result="busy"}`: answered `bye busy` unchecked. */
  readonly loginsBusy: Counter;
  /** `banter_lockout_write_errors_total`: lockout file writes that failed. */
  readonly lockoutWriteErrors: Counter;
  /** `banter_logins_paused`: 1 while password logins are refused because
   * failed attempts cannot be recorded. */
  readonly loginsPaused: Gauge;
  /** `banter_lockouts_total{scope}`: locks started, per account or address. */
  readonly lockouts: Readonly<Record<"account" | "ip", Counter>>;
  /** `banter_messages_received_total`: `say` frames from logged-in users. */
  readonly messagesIn: Counter;
  /** `banter_messages_delivered_total`: chat events queued for a client. */
  readonly messagesOut: Counter;
  /** `banter_backpressure_drops_total`: clients dropped for not reading. */
  readonly backpressureDrops: Counter;
  /** `banter_pre_login_read_pauses_total`: reads paused by the pre-login byte budget. */
  readonly preLoginReadPauses: Counter;
  /** `banter_joke_fetches_total{outcome}`. */
  readonly jokes: Readonly<Record<JokeOutcome, Counter>>;
  /** `banter_event_loop_lag_seconds`: the last timer's delay. */
  readonly eventLoopLag: Gauge;
  /** `banter_lockout_alerts_total{result}`: alert mails sent, failed, dropped. */
  readonly alerts: Readonly<Record<"sent" | "failed" | "dropped", Counter>>;
  /** `banter_data_free_bytes`: free space of the data directory's filesystem. */
  readonly dataFreeBytes: Gauge;
  /** `banter_history_bytes`: history held, as charged against its quotas. */
  readonly historyBytes: Gauge;
  /** `banter_certificate_days_left`: whole days until the server certificate expires. */
  readonly certificateDaysLeft: Gauge;
}

/** The cluster figures `/metrics` adds. */
export interface ClusterMetrics {
  /** `banter_cluster_link_up`: 1 while the NATS link is up. */
  readonly linkUp: Gauge;
  /** `banter_cluster_publish_seconds_sum` / `_count`: time from post to the stream's ack. */
  readonly publishSeconds: { readonly sum: Counter; readonly count: Counter };
  /** `banter_cluster_publish_failures_total`: posts the stream did not take (the sender was told). */
  readonly publishFailures: Counter;
  /** `banter_cluster_stream_lag_messages`: messages stored in the stream not yet delivered here. */
  readonly streamLag: Gauge;
  /** `banter_cluster_kv_conflicts_total`: compare-and-set writes lost to another writer and retried. */
  readonly kvConflicts: Counter;
  /** `banter_cluster_kv_write_failures_total`: KV writes that failed after their retries. */
  readonly kvWriteFailures: Counter;
  /** `banter_cluster_instances`: instances with a fresh presence entry, this one included. */
  readonly instances: Gauge;
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
    "busy",
  ]);
  return {
    registry,
    connectionsOpen: registry.gauge({
      name: "banter_connections_open",
      help: "Handshaken TLS connections now open",
    }),
    handshakesFailed: registry.counter({
      name: "banter_tls_handshakes_failed_total",
      help: "TLS handshakes that failed or timed out (refusals are counted apart)",
    }),
    refused: labelled(
      registry,
      "banter_connections_refused_total",
      "Connections closed by a handshake or connection cap, by reason",
      "reason",
      REFUSAL_REASONS,
    ),
    loginsOk: logins.ok,
    loginsFailed: logins.failed,
    loginsBusy: logins.busy,
    lockoutWriteErrors: registry.counter({
      name: "banter_lockout_write_errors_total",
      help: "Failed writes of the lockout file (password logins pause while they fail)",
    }),
    loginsPaused: registry.gauge({
      name: "banter_logins_paused",
      help: "1 while password logins are refused: failed attempts cannot be recorded",
    }),
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
    preLoginReadPauses: registry.counter({
      name: "banter_pre_login_read_pauses_total",
      help: "Times a connection that had not logged in was paused for passing its byte budget",
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
    dataFreeBytes: registry.gauge({
      name: "banter_data_free_bytes",
      help: "Free bytes on the data directory's filesystem",
    }),
    historyBytes: registry.gauge({
      name: "banter_history_bytes",
      help: "Bytes of chat history held, as charged against its quotas",
    }),
    certificateDaysLeft: registry.gauge({
      name: "banter_certificate_days_left",
      help: "Whole days until the server certificate expires (negative once it has)",
    }),
  };
}

/**
 * Add cluster mode's figures (`banter_cluster_*`) to `registry`: only a
 * cluster instance has them.
 *
 * @param registry The server's registry.
 * @returns The figures.
 */
export function addClusterMetrics(registry: Registry): ClusterMetrics {
  return {
    linkUp: registry.gauge({
      name: "banter_cluster_link_up",
      help: "1 while the NATS link is up (cluster mode)",
    }),
    publishSeconds: {
      sum: registry.counter({
        name: "banter_cluster_publish_seconds_sum",
        help: "Seconds from posting a message to the stream's acknowledgement, summed",
      }),
      count: registry.counter({
        name: "banter_cluster_publish_seconds_count",
        help: "Messages acknowledged by the stream",
      }),
    },
    publishFailures: registry.counter({
      name: "banter_cluster_publish_failures_total",
      help: "Messages the stream did not take (their senders were told)",
    }),
    streamLag: registry.gauge({
      name: "banter_cluster_stream_lag_messages",
      help: "Messages stored in the stream and not yet delivered by this instance",
    }),
    kvConflicts: registry.counter({
      name: "banter_cluster_kv_conflicts_total",
      help: "KV compare-and-set writes lost to another writer and retried",
    }),
    kvWriteFailures: registry.counter({
      name: "banter_cluster_kv_write_failures_total",
      help: "KV writes that failed after their retries",
    }),
    instances: registry.gauge({
      name: "banter_cluster_instances",
      help: "Cluster instances with a fresh presence entry, this one included",
    }),
  };
}

/** Options for {@linkcode monitorEventLoopLag}. */
export interface LagMonitorOptions {
  /** Time between probes. @default 1000 */
  intervalMs?: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
  /** Where the probe timer runs (a `Clock` will do). @default systemClock */
  timers?: Pick<Timers, "setTimeout" | "clearTimeout">;
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
  const timers = options.timers ?? systemClock;
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
