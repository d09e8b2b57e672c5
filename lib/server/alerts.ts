/**
 * Lockout alerts by e-mail: each lock started by failed logins becomes one
 * mail to the admin address. Mail goes out in the background, one at a time,
 * from a bounded queue: a slow or dead mail server is logged and never
 * blocks or fails a login.
 *
 * @module
 */
import { escapeUntrusted } from "../util/untrusted_text.ts";
import { getLogger } from "@logtape/logtape";
import type { LockoutEvent } from "../auth/login.ts";
import type { TimeSource } from "../util/clock.ts";
import type { Counter } from "./prometheus.ts";
import type { MailMessage } from "./smtp.ts";

const log = getLogger(["banter", "alert"]);

/** Alerts waiting behind the one being sent; more are dropped (and logged). */
export const MAX_PENDING_ALERTS = 16;

/** Counters of alert results. */
export interface AlertCounters {
  readonly sent: Counter;
  readonly failed: Counter;
  readonly dropped: Counter;
}

/** Options for {@linkcode LockoutAlerts}. */
export interface LockoutAlertsOptions {
  /** Sender address. */
  from: string;
  /** The admin address. */
  to: string;
  /** Delivers one message; rejects on failure, stops when `signal` aborts. */
  send: (message: MailMessage, signal: AbortSignal) => Promise<void>;
  /** Time of the alert. */
  clock: TimeSource;
  /** Names the server in the mail. @default "Banter" */
  serverName?: string;
  /** Alerts queued at most. @default {MAX_PENDING_ALERTS} */
  maxPending?: number;
  /** Counted per result. */
  counters?: AlertCounters;
}

/**
 * The alert for `event`: the name tried (quoted, control characters escaped),
 * the source address and how long the lock lasts. Never a password.
 *
 * @param event The lock.
 * @param options Sender, recipient, server name, time.
 * @returns The message.
 */
export function lockoutMessage(
  event: LockoutEvent,
  options: { from: string; to: string; serverName: string; now: number },
): MailMessage {
  const what = event.scope === "account"
    ? `the account "${escapeUntrusted(event.username)}"`
    : `the address ${event.ip}`;
  const minutes = Math.max(1, Math.round(event.retryAfterMs / 60_000));
  const until = new Date(options.now + event.retryAfterMs).toISOString();
  return {
    from: options.from,
    to: options.to,
    subject: `${options.serverName}: login lockout (${
      event.scope === "account" ? "account" : "address"
    })`,
    date: new Date(options.now),
    text: [
      `${options.serverName} locked ${what} after repeated failed logins.`,
      "",
      `Name tried: "${escapeUntrusted(event.username)}"`,
      `Source address: ${event.ip}`,
      `Locked for: ${minutes} minute${minutes === 1 ? "" : "s"} (until ${until})`,
      "",
      "If this was not the account's owner, look for the address in the audit log.",
      "",
    ].join("\n"),
  };
}

/** Sends one alert per lockout, in the background. */
export class LockoutAlerts {
  readonly #options: LockoutAlertsOptions;
  readonly #maxPending: number;
  readonly #queue: MailMessage[] = [];
  readonly #abort = new AbortController();
  #draining = false;
  #running: Promise<void> = Promise.resolve();

  /**
   * @param options Addresses, sender, clock, bound.
   * @throws {RangeError} When `maxPending` is not positive.
   */
  constructor(options: LockoutAlertsOptions) {
    this.#options = options;
    this.#maxPending = options.maxPending ?? MAX_PENDING_ALERTS;
    if (!(this.#maxPending >= 1)) {
      throw new RangeError(`Cannot create lockout alerts: maxPending is ${this.#maxPending}`);
    }
  }

  /**
   * Queue the alert for `event`. Never throws, never waits.
   *
   * @param event The lock.
   */
  notify(event: LockoutEvent): void {
    if (this.#abort.signal.aborted || this.#queue.length >= this.#maxPending) {
      this.#options.counters?.dropped.inc();
      log.warn("Dropped lockout alert for {scope} {user} from {address}: too many queued", {
        scope: event.scope,
        user: event.username,
        address: event.ip,
      });
      return;
    }
    this.#queue.push(lockoutMessage(event, {
      from: this.#options.from,
      to: this.#options.to,
      serverName: this.#options.serverName ?? "Banter",
      now: this.#options.clock.now(),
    }));
    if (!this.#draining) {
      this.#draining = true;
      this.#running = this.#drain();
    }
  }

  /** Resolves when every alert queued so far is sent or given up. */
  async settled(): Promise<void> {
    while (this.#draining) await this.#running;
  }

  /** Drop queued alerts, abort the one being sent, and wait for it. */
  async close(): Promise<void> {
    const dropped = this.#queue.length;
    this.#queue.length = 0;
    if (dropped > 0) {
      this.#options.counters?.dropped.inc(dropped);
      log.warn("Dropped {count} lockout alerts at shutdown", { count: dropped });
    }
    this.#abort.abort(new Error("Shutting down"));
    await this.settled();
  }

  async #drain(): Promise<void> {
    for (;;) {
      const message = this.#queue.shift();
      if (message === undefined) {
        this.#draining = false; // in the same tick as the check: no alert is stranded
        return;
      }
      try {
        await this.#options.send(message, this.#abort.signal);
        this.#options.counters?.sent.inc();
        log.info("Sent lockout alert to {to}", { to: message.to });
      } catch (error) {
        this.#options.counters?.failed.inc();
        log.error("Cannot send lockout alert to {to}: {error}", {
          to: message.to,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
}
