/**
 * Lockout alert mails, wired from the config: {@linkcode LockoutAlerts}
 * sending through {@linkcode sendMail} when `smtpHost` is set.
 *
 * @module
 */
import type { Clock } from "../util/clock.ts";
import { LockoutAlerts } from "./alerts.ts";
import type { ServerMetrics } from "./metrics.ts";
import { SERVER_NAME } from "./server_name.ts";
import type { ServerConfig } from "./settings.ts";
import { sendMail } from "./smtp.ts";
import { readPem } from "./tls_files.ts";

/**
 * Lockout alerts by mail, when `smtpHost` is set.
 *
 * @param config The SMTP and alert settings.
 * @param clock For the alerts' rate limit and dates.
 * @param metrics Where sent, failed and dropped alerts are counted.
 * @returns The alerts, or `undefined` when no mail server is configured.
 * @throws {Error} When the configured mail server CA cannot be read.
 */
export async function lockoutAlerts(
  config: ServerConfig,
  clock: Clock,
  metrics: ServerMetrics,
): Promise<LockoutAlerts | undefined> {
  const { smtpHost, alertFrom, alertTo } = config;
  if (smtpHost === undefined || alertFrom === undefined || alertTo === undefined) {
    return undefined;
  }
  const caCerts = config.smtpCa === undefined
    ? undefined
    : [await readPem(config.smtpCa, "mail server CA")];
  return new LockoutAlerts({
    from: alertFrom,
    to: alertTo,
    clock,
    serverName: SERVER_NAME,
    counters: metrics.alerts,
    send: (message, signal) =>
      sendMail(message, {
        host: smtpHost,
        port: config.smtpPort,
        security: config.smtpSecurity,
        timeoutMs: config.smtpTimeoutMs,
        clock,
        signal,
        ...(caCerts ? { caCerts } : {}),
        ...(config.smtpUser === undefined ? {} : {
          username: config.smtpUser,
          password: config.smtpPassword ?? "",
        }),
      }),
  });
}
