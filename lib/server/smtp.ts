/**
 * Alert mail over SMTP: one plain-text message per connection, sent by
 * nodemailer. nodemailer is imported on the first send, so a server without
 * `smtpHost` never loads it. This file picks the safe settings (STARTTLS
 * required unless told otherwise, certificates verified, no password in
 * clear), puts one deadline on the whole exchange, and turns nodemailer's
 * errors into {@linkcode SmtpError}s that never contain the credentials.
 *
 * The TCP connection is opened here, not by nodemailer: nodemailer's own
 * lookup asks for the network interface list and the system's DNS server,
 * permissions the server does not have; `node:net` needs only
 * `--allow-net=host:port`, as `Deno.connect` did.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { systemClock, type Timers } from "../util/clock.ts";
import type { SendMailOptions } from "nodemailer";
import type { SMTPTransportOptions } from "nodemailer/lib/smtp-transport";

/** How the connection to the mail server is protected. */
export type SmtpSecurity = "starttls" | "tls" | "none";

/** Longest reply taken from the server, in bytes (as 100 lines of 4 KiB). */
export const MAX_REPLY_BYTES = 100 * 4096;
/** Longest piece of server text quoted in an error. */
const MAX_QUOTED = 200;

/** Where and how to send. */
export interface SmtpOptions {
  /** Mail server host name (also checked against its certificate). */
  host: string;
  /** Mail server port. @default 587 */
  port?: number;
  /** `starttls` upgrades a plain connection and refuses servers that cannot;
   * `tls` speaks TLS from the start (port 465); `none` sends in clear.
   * @default "starttls" */
  security?: SmtpSecurity;
  /** CA certificates (PEM) that verify the server; the system roots when omitted. */
  caCerts?: string[];
  /** Account for AUTH; none when omitted. */
  username?: string;
  /** Password for AUTH. */
  password?: string;
  /** Name this client gives in EHLO. @default "localhost" */
  clientName?: string;
  /** Deadline for connecting and the whole exchange, in ms. @default 10000 */
  timeoutMs?: number;
  /** Runs the deadline. @default systemClock */
  clock?: Timers;
  /** Aborts the exchange. */
  signal?: AbortSignal;
}

/** A plain-text message. */
export interface MailMessage {
  /** Envelope and header sender, a bare address. */
  from: string;
  /** Envelope and header recipient, a bare address. */
  to: string;
  /** Subject; encoded when not printable ASCII. */
  subject: string;
  /** UTF-8 body. */
  text: string;
  /** The `Date` header. */
  date: Date;
}

/**
 * The mail server refused or broke off the exchange. It has no `cause`:
 * nodemailer's errors quote the server, and a server may echo credentials.
 */
export class SmtpError extends Error {
  /** The server's reply code, when it sent one. */
  readonly code: number | undefined;
  /**
   * @param message What failed.
   * @param code The reply code.
   */
  constructor(message: string, code?: number) {
    super(message);
    this.name = "SmtpError";
    this.code = code;
  }
}

const ADDRESS = /^[^\s<>()[\]\\,;:@"]+@[^\s<>()[\]\\,;:@"]+$/;

/**
 * Whether `address` is a bare address safe for an envelope and a header.
 *
 * @param address Text like `admin@example.org`.
 * @returns `true` for printable ASCII with one `@` and no space or bracket.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMailAddress } from "./smtp.ts";
 *
 * assert.equal(isMailAddress("admin@example.org"), true);
 * assert.equal(isMailAddress("a@b.example\r\nBcc: c@d.example"), false);
 * ```
 */
export function isMailAddress(address: string): boolean {
  return address.length <= 254 && /^[\x21-\x7e]+$/.test(address) && ADDRESS.test(address);
}

/** The fields of nodemailer's errors this file reads. */
interface NodemailerError {
  message?: unknown;
  code?: unknown;
  command?: unknown;
  response?: unknown;
  responseCode?: unknown;
}

function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Every form in which the credentials go over the wire (AUTH PLAIN and LOGIN). */
function secretForms(options: SmtpOptions): string[] {
  const { username, password } = options;
  if (username === undefined || !password) return [];
  return [password, base64(password), base64(`\0${username}\0${password}`)];
}

/** Server text fit for an error: one line, short, no credentials. */
function quote(text: string, secrets: readonly string[]): string {
  // deno-lint-ignore no-control-regex
  let clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").trim();
  for (const secret of secrets) clean = clean.replaceAll(secret, "[redacted]");
  return clean.slice(0, MAX_QUOTED);
}

/** What `error` (from nodemailer) says, as an {@linkcode SmtpError}. */
function smtpError(error: unknown, secrets: readonly string[]): SmtpError {
  const { message, command, response, responseCode } = (error ?? {}) as NodemailerError;
  if (typeof responseCode === "number" && typeof response === "string") {
    const step = typeof command === "string" ? quote(command, secrets) : "the server";
    return new SmtpError(
      `Cannot send mail: ${step} answered ${quote(response, secrets)}`,
      responseCode,
    );
  }
  const text = typeof message === "string" ? message : String(error);
  return new SmtpError(`Cannot send mail: ${quote(text, secrets)}`);
}

/**
 * Connects to `host:port`; the socket is destroyed when `signal` aborts, at
 * any point of the exchange.
 */
function openSocket(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    signal.addEventListener("abort", () => socket.destroy(), { once: true });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

/** nodemailer's settings for `options`, over a socket from `openSocket`. */
function transportOptions(
  options: SmtpOptions,
  timeoutMs: number,
  signal: AbortSignal,
): SMTPTransportOptions {
  const security = options.security ?? "starttls";
  const port = options.port ?? 587;
  return {
    host: options.host,
    port,
    getSocket: (_, done) => {
      openSocket(options.host, port, signal).then(
        (connection) => done(null, { connection }),
        (error: Error) => done(error),
      );
    },
    secure: security === "tls",
    requireTLS: security === "starttls",
    ignoreTLS: security === "none",
    // An explicit EHLO name: nodemailer would otherwise ask os.hostname().
    name: options.clientName ?? "localhost",
    tls: {
      rejectUnauthorized: true,
      ...(options.caCerts ? { ca: options.caCerts } : {}),
    },
    ...(options.username === undefined ? {} : {
      auth: { user: options.username, pass: options.password ?? "" },
      // Log in even when the server does not offer AUTH, rather than send without it.
      forceAuth: true,
    }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    maxResponseSize: MAX_REPLY_BYTES,
    // Once given up, the socket goes at once; it does not wait for the server.
    socketCloseTimeout: 0,
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/**
 * Send one message.
 *
 * @param message From, to, subject, text, date.
 * @param options Server, security, credentials, deadline.
 * @returns When the server has accepted the message.
 * @throws {SmtpError} When the server refuses, breaks off or times out, or
 * a password would go in clear.
 * @throws {TypeError} When an address is not a bare address.
 * @throws {unknown} The reason of `options.signal` when it aborts.
 */
export async function sendMail(message: MailMessage, options: SmtpOptions): Promise<void> {
  for (const address of [message.from, message.to]) {
    if (!isMailAddress(address)) {
      throw new TypeError(`Cannot send mail: "${address}" is not a mail address`);
    }
  }
  if (options.username !== undefined && options.security === "none") {
    throw new SmtpError("Cannot send mail: refusing to send a password without TLS");
  }
  options.signal?.throwIfAborted();
  const { createTransport } = await import("nodemailer");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? systemClock;
  const deadline = new AbortController();
  const timer = clock.setTimeout(
    () => deadline.abort(new DOMException("Mail deadline passed", "TimeoutError")),
    timeoutMs,
  );
  try {
    await send(createTransport, message, options, timeoutMs, deadline.signal);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** One exchange with the mail server, ended by `timeout` or the caller's signal. */
async function send(
  createTransport: typeof import("nodemailer").createTransport,
  message: MailMessage,
  options: SmtpOptions,
  timeoutMs: number,
  timeout: AbortSignal,
): Promise<void> {
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const transport = createTransport(transportOptions(options, timeoutMs, signal));
  const mail: SendMailOptions = {
    envelope: { from: message.from, to: [message.to] },
    from: message.from,
    to: message.to,
    subject: message.subject,
    date: message.date,
    text: message.text,
    // The body always in base64, as written (nodemailer would send plain
    // ASCII as 7bit); `B` words for headers that need encoding.
    textEncoding: "base64",
    headers: { "Content-Transfer-Encoding": "base64" },
    signal,
  };
  try {
    await transport.sendMail(mail);
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    // nodemailer's own timers run on the same deadline and may fire first.
    if (timeout.aborted || (error as NodemailerError | undefined)?.code === "ETIMEDOUT") {
      throw new SmtpError(`Cannot send mail: no answer within ${timeoutMs} ms`);
    }
    throw smtpError(error, secretForms(options));
  } finally {
    transport.close();
  }
}
