/**
 * Refused connections and failed TLS handshakes, counted once each in the
 * metrics and logged as rate-limited summaries: per address (an IPv6 /64
 * counts as one), the first is written at once, then one count per
 * interval of the server's clock while more come ("Refused 523 more
 * connections from 192.0.2.7 in the last 10 s (pending-handshake cap per
 * address)"). A flood from one address writes two lines per reason per
 * interval, not one per connection.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { addressGroup } from "../util/address_group.ts";
import type { Clock } from "../util/clock.ts";
import { LogSummary } from "../util/log_summary.ts";
import { escapeUntrusted } from "../util/untrusted_text.ts";
import type { Counter } from "./prometheus.ts";
import { REFUSAL_REASONS, type RefusalReason } from "./metrics.ts";

const log = getLogger(["banter", "server"]);
const audit = getLogger(["banter", "audit"]);

/** Addresses summarised at once per reason; the rest are counted together. */
export const MAX_SUMMARISED_ADDRESSES = 64;

/** Longest TLS error text logged, in characters. */
const MAX_ERROR_CHARS = 200;

/** What a summary calls the addresses past {@linkcode MAX_SUMMARISED_ADDRESSES}. */
const OTHER_ADDRESSES = "other addresses";

/** Each reason in the words of a log line. */
const WHY: Readonly<Record<RefusalReason, string>> = {
  handshake_per_address: "pending-handshake cap per address",
  handshake_pool_full: "pending-handshake pool full",
  handshake_evicted: "evicted from the full pending-handshake pool",
  per_address: "too many connections from the address",
  server_full: "server full",
};

/** Options for {@linkcode Refusals}. */
export interface RefusalsOptions {
  /** Runs the summary intervals. */
  clock: Clock;
  /** One summary per address and reason at most this often, in ms. */
  intervalMs: number;
  /** Where refusals and failures are counted. */
  counters: {
    refused: Readonly<Record<RefusalReason, Counter>>;
    handshakesFailed: Counter;
  };
}

/**
 * Counts and logs refusals and failed handshakes; dispose to write the
 * summaries still counted and stop its timers.
 */
export class Refusals implements Disposable {
  readonly #options: RefusalsOptions;
  readonly #refused: Record<RefusalReason, LogSummary<string>>;
  readonly #failed: LogSummary<{ address: string; error: string }>;

  /** @param options Clock, interval, counters. */
  constructor(options: RefusalsOptions) {
    this.#options = options;
    const bounds = {
      clock: options.clock,
      intervalMs: options.intervalMs,
      maxKeys: MAX_SUMMARISED_ADDRESSES,
      overflowKey: OTHER_ADDRESSES,
    };
    const refused = {} as Record<RefusalReason, LogSummary<string>>;
    for (const reason of REFUSAL_REASONS) {
      const why = WHY[reason];
      refused[reason] = new LogSummary<string>({
        first: (_, address) =>
          log.warn("Refused a connection from {address} ({why})", {
            address,
            why,
          }),
        summary: (group, count, _, ms) =>
          log.warn(
            "Refused {count} more {connections} from {group} in the last {seconds} s ({why})",
            {
              count,
              connections: count === 1 ? "connection" : "connections",
              group,
              seconds: seconds(ms),
              why,
            },
          ),
      }, bounds);
    }
    this.#refused = refused;
    this.#failed = new LogSummary({
      first: (_, { address, error }) =>
        audit.info("TLS handshake failed from {address}: {error}", { address, error }),
      summary: (group, count, { error }, ms) =>
        audit.info(
          "TLS handshake failed {count} more {times} from {group} in the last {seconds} s (last: {error})",
          { count, times: count === 1 ? "time" : "times", group, seconds: seconds(ms), error },
        ),
    }, bounds);
  }

  /**
   * A connection from `address` was closed by a cap.
   *
   * @param address The peer's IP address.
   * @param reason Which cap.
   */
  refused(address: string, reason: RefusalReason): void {
    this.#options.counters.refused[reason].inc();
    this.#refused[reason].note(addressGroup(address), address);
  }

  /**
   * A TLS handshake from `address` failed or timed out.
   *
   * @param address The peer's IP address.
   * @param error What went wrong (the TLS library's words, never a secret).
   */
  handshakeFailed(address: string, error: Error): void {
    this.#options.counters.handshakesFailed.inc();
    const text = escapeUntrusted(error.message, MAX_ERROR_CHARS);
    this.#failed.note(addressGroup(address), { address, error: text });
  }

  /**
   * A verified client certificate failed the server's own chain checks. Only
   * holders of a certificate from the client CA get here, so each refusal is
   * one audit line, not a summary.
   *
   * @param address The peer's IP address.
   * @param reason Which check failed.
   * @param options `failed`: the connection was closed for it (certificates
   * required), so it counts as a failed handshake.
   */
  clientCertificateRefused(address: string, reason: string, options: { failed: boolean }): void {
    if (options.failed) this.#options.counters.handshakesFailed.inc();
    audit.warn("Client certificate from {address} refused: {reason}", {
      address,
      reason: escapeUntrusted(reason, MAX_ERROR_CHARS),
    });
  }

  /**
   * Write the summaries still counted and stop every timer (shutdown); later
   * refusals and failures are still counted, no longer logged.
   */
  [Symbol.dispose](): void {
    for (const summary of Object.values(this.#refused)) summary[Symbol.dispose]();
    this.#failed[Symbol.dispose]();
  }
}

/** `ms` as whole seconds for a log line (at least 1). */
function seconds(ms: number): number {
  return Math.max(1, Math.round(ms / 1000));
}
