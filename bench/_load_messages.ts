/**
 * Messages between the load generator ({@linkcode LoadGenerator} in
 * load.ts) and its workers (load_worker.ts).
 *
 * @module
 */
import type { DialectName } from "./dialects.ts";
import type { HistogramData } from "./histogram.ts";

/** Where and how a worker's clients connect. */
export interface WorkerSetup {
  dialect: DialectName;
  hostname: string;
  port: number;
  /** CA certificate, PEM. */
  ca: string;
  /** TLS lines, or one WebSocket message per frame on Banter's web port. @default "tls" */
  transport?: "tls" | "websocket";
  /** Chat payload length in bytes. */
  payloadBytes: number;
  /** This worker's index and the worker count (to stagger paced sends). */
  index: number;
  workers: number;
}

/** A client to log in; `measure: false` clients do not record latencies. */
export interface ClientPlan {
  name: string;
  password: string;
  room?: string;
  measure: boolean;
  /** Port of the instance this client uses (several instances of a cluster). @default the setup's port */
  port?: number;
}

/** Requests to a worker. */
export type WorkerRequest =
  | { op: "init"; id: number; setup: WorkerSetup }
  | {
    op: "connect";
    id: number;
    clients: ClientPlan[];
    concurrency: number;
    timeoutMs: number;
    /** Wall-clock ms after which no new login starts. */
    deadline: number;
  }
  | { op: "burst"; id: number; messages: number }
  | { op: "paced"; id: number; rate: number; durationMs: number; startAt: number }
  | { op: "stop"; id: number }
  | { op: "nudge"; id: number }
  | { op: "stats"; id: number; reset: boolean; histogram: boolean }
  | { op: "close"; id: number };

/** Result of a `connect`. */
export interface ConnectReport {
  ok: number;
  failed: number;
  /** Clients not tried because the deadline passed. */
  skipped: number;
  /** First few failure messages. */
  errors: string[];
  /** Each successful login's time from connect to in-the-room, ms. */
  loginMs: number[];
}

/** Result of a `burst` or `paced`. */
export interface SendReport {
  /** Chat lines written by measured clients. */
  sent: number;
  /** Ticks at which a client was still writing and had to skip. */
  skipped: number;
}

/** Counters of a worker. */
export interface WorkerStats {
  /** Chat deliveries to measured clients. */
  received: number;
  /** Chat deliveries to unmeasured clients. */
  receivedOther: number;
  /** Non-chat lines. */
  controlLines: number;
  bytesIn: number;
  /** Wall-clock ms of the last delivery to a measured client (0 = none). */
  lastAt: number;
  /** Logged-in clients whose connection has ended since. */
  dropped: number;
  errors: string[];
  histogram?: HistogramData;
}

/** A worker's answer. */
export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };
