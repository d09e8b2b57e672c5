/**
 * The server certificate's expiry: a start on an expired certificate is
 * refused with the command that renews it, a certificate within
 * {@linkcode EXPIRY_WARN_DAYS} of its end is warned about at start and once
 * a day while the server runs (on the injected clock), and the whole days
 * left are kept in a gauge for `/metrics`.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../util/clock.ts";
import type { Gauge } from "./prometheus.ts";

const log = getLogger(["banter", "server"]);

/** Warn when fewer whole days than this are left. */
export const EXPIRY_WARN_DAYS = 30;

/** How often a running server looks again, in ms (a day). */
export const EXPIRY_CHECK_MS = 86_400_000;

/** The server certificate's end of validity, and what renews it. */
export interface CertificateExpiry {
  /** The certificate file, for the messages. */
  path: string;
  /** Its notAfter. */
  notAfter: Date;
  /** What the operator does to renew it (a command, or "replace FILE ..."). */
  renew: string;
}

/** The start was refused: the server certificate is past its notAfter. */
export class CertificateExpiredError extends Error {
  /** @param expiry The certificate. */
  constructor(expiry: CertificateExpiry) {
    super(
      `Cannot use server certificate ${expiry.path}: it expired on ${day(expiry.notAfter)} ` +
        `and clients refuse it; ${expiry.renew}`,
    );
    this.name = "CertificateExpiredError";
  }
}

/**
 * The notAfter of a PEM certificate (the first one of a chain).
 *
 * @param pem Certificate PEM.
 * @returns Its end of validity.
 * @throws {TypeError} When `pem` holds no certificate.
 */
export function certificateNotAfter(pem: string): Date {
  try {
    return new Date(new X509Certificate(pem).validTo);
  } catch (error) {
    throw new TypeError("Cannot read the certificate's validity: not a PEM certificate", {
      cause: error,
    });
  }
}

/**
 * Whole days from `now` to `notAfter`: 0 on its last day, negative once past.
 *
 * @param notAfter End of validity.
 * @param now Milliseconds since the epoch.
 * @returns Days left, rounded down.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { daysLeft } from "./cert_expiry.ts";
 * const now = Date.UTC(2026, 0, 1);
 * equal(daysLeft(new Date(Date.UTC(2026, 0, 31, 12)), now), 30);
 * equal(daysLeft(new Date(now - 1), now), -1);
 * ```
 */
export function daysLeft(notAfter: Date, now: number): number {
  return Math.floor((notAfter.getTime() - now) / EXPIRY_CHECK_MS);
}

/**
 * Refuse a certificate past its notAfter.
 *
 * @param expiry The server certificate.
 * @param now Milliseconds since the epoch.
 * @throws {CertificateExpiredError} When it has expired.
 */
export function refuseExpiredCertificate(expiry: CertificateExpiry, now: number): void {
  if (now >= expiry.notAfter.getTime()) throw new CertificateExpiredError(expiry);
}

/** Options for {@linkcode watchCertificateExpiry}. */
export interface ExpiryWatchOptions {
  /** Time now and the daily timer. */
  clock: Pick<Clock, "now" | "setInterval" | "clearInterval">;
  /** Set to the days left (`banter_certificate_days_left`). */
  gauge: Gauge;
  /** Warn below this many days. @default {EXPIRY_WARN_DAYS} */
  warnDays?: number;
}

/**
 * Refuse an expired certificate, then keep the days-left gauge current and
 * warn, at start and once a day, while fewer than `warnDays` are left (an
 * error once it has expired under a running server).
 *
 * @param expiry The server certificate.
 * @param options Clock, gauge, threshold.
 * @returns Stops the daily check.
 * @throws {CertificateExpiredError} When it has expired already.
 */
export function watchCertificateExpiry(
  expiry: CertificateExpiry,
  options: ExpiryWatchOptions,
): Disposable {
  const { clock, gauge } = options;
  const warnDays = options.warnDays ?? EXPIRY_WARN_DAYS;
  refuseExpiredCertificate(expiry, clock.now());
  const check = () => {
    const now = clock.now();
    const left = daysLeft(expiry.notAfter, now);
    gauge.set(left);
    if (now >= expiry.notAfter.getTime()) {
      log.error(
        "Server certificate {path} expired on {date}: clients refuse new connections; {renew}",
        { path: expiry.path, date: day(expiry.notAfter), renew: expiry.renew },
      );
    } else if (left < warnDays) {
      log.warn("Server certificate {path} expires in {days} {unit} ({date}); {renew}", {
        path: expiry.path,
        days: left,
        unit: left === 1 ? "day" : "days",
        date: day(expiry.notAfter),
        renew: expiry.renew,
      });
    }
  };
  check();
  const id = clock.setInterval(check, EXPIRY_CHECK_MS);
  return { [Symbol.dispose]: () => clock.clearInterval(id) };
}

/** A date as YYYY-MM-DD (UTC). */
function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
