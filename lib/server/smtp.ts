/**
 * A small SMTP client for alert mail: one plain-text message per connection,
 * STARTTLS or implicit TLS with certificate verification, AUTH PLAIN or
 * LOGIN, and one deadline on the whole exchange. Besides lib/transport.ts,
 * this is the only file that opens sockets; it never logs, and no error it
 * throws contains the password.
 *
 * @module
 */

/** How the connection to the mail server is protected. */
export type SmtpSecurity = "starttls" | "tls" | "none";

/** Longest reply line read from the server, in bytes. */
export const MAX_REPLY_LINE_BYTES = 4096;
/** Most lines in one (multi-line) reply. */
export const MAX_REPLY_LINES = 100;
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

/** The mail server refused or broke off the exchange. */
export class SmtpError extends Error {
  /** The server's reply code, when it sent one. */
  readonly code: number | undefined;
  /**
   * @param message What failed.
   * @param code The reply code.
   * @param options The underlying error.
   */
  constructor(message: string, code?: number, options?: ErrorOptions) {
    super(message, options);
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
 */
export function isMailAddress(address: string): boolean {
  return address.length <= 254 && /^[\x21-\x7e]+$/.test(address) && ADDRESS.test(address);
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const encoder = new TextEncoder();

function headerText(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text) && !text.includes("=?")) return text;
  return `=?UTF-8?B?${base64(encoder.encode(text))}?=`;
}

/**
 * The message as sent after DATA: headers, then the body in base64 (so no
 * line of it can start with a dot or end the data early), CRLF line ends.
 *
 * @param message The message.
 * @returns The wire text, without the final `.` line.
 * @throws {TypeError} When an address is not a bare address.
 */
export function formatMessage(message: MailMessage): string {
  for (const address of [message.from, message.to]) {
    if (!isMailAddress(address)) {
      throw new TypeError(`Cannot send mail: "${address}" is not a mail address`);
    }
  }
  const body = base64(encoder.encode(message.text)).replace(/.{1,76}/g, "$&\r\n");
  return [
    `From: ${message.from}`,
    `To: ${message.to}`,
    `Subject: ${headerText(message.subject)}`,
    `Date: ${message.date.toUTCString()}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    body,
  ].join("\r\n");
}

interface Reply {
  code: number;
  lines: string[];
}

function quote(reply: Reply): string {
  // deno-lint-ignore no-control-regex
  const text = reply.lines.join(" ").replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  return `${reply.code} ${text.slice(0, MAX_QUOTED)}`.trim();
}

/** Reads replies from one connection; swapped for the TLS one after STARTTLS. */
class Session {
  #conn: Deno.Conn;
  #buffered = "";
  readonly #chunk = new Uint8Array(4096);
  readonly #decoder = new TextDecoder("latin1");

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get conn(): Deno.Conn {
    return this.#conn;
  }

  /** Swap in the upgraded connection; nothing may be buffered. */
  upgrade(conn: Deno.Conn): void {
    if (this.#buffered !== "") {
      throw new SmtpError("Cannot send mail: the server sent data before TLS started");
    }
    this.#conn = conn;
  }

  async #line(): Promise<string> {
    for (;;) {
      const end = this.#buffered.indexOf("\n");
      if (end !== -1) {
        const line = this.#buffered.slice(0, end).replace(/\r$/, "");
        this.#buffered = this.#buffered.slice(end + 1);
        return line;
      }
      if (this.#buffered.length > MAX_REPLY_LINE_BYTES) {
        throw new SmtpError("Cannot send mail: the server sent an overlong line");
      }
      const n = await this.#conn.read(this.#chunk);
      if (n === null) throw new SmtpError("Cannot send mail: the server closed the connection");
      this.#buffered += this.#decoder.decode(this.#chunk.subarray(0, n));
    }
  }

  async reply(): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.#line();
      const match = /^(\d{3})([ -]|$)(.*)$/.exec(line);
      if (!match) {
        throw new SmtpError("Cannot send mail: the server's reply is not SMTP");
      }
      lines.push(match[3]!);
      if (match[2] !== "-") return { code: Number(match[1]), lines };
      if (lines.length >= MAX_REPLY_LINES) {
        throw new SmtpError("Cannot send mail: the server's reply is too long");
      }
    }
  }

  async write(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /**
   * Send a command and read its reply.
   *
   * @param line The command, without CRLF.
   * @param expect Acceptable reply codes.
   * @param what Names the step in errors, in place of the line (which may
   * hold credentials).
   */
  async command(line: string, expect: readonly number[], what: string): Promise<Reply> {
    await this.write(line + "\r\n");
    return this.expect(expect, what);
  }

  async expect(expect: readonly number[], what: string): Promise<Reply> {
    const reply = await this.reply();
    if (!expect.includes(reply.code)) {
      throw new SmtpError(`Cannot send mail: ${what} answered ${quote(reply)}`, reply.code);
    }
    return reply;
  }
}

function extensions(ehlo: Reply): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of ehlo.lines.slice(1)) {
    const [keyword = "", ...rest] = line.trim().split(/\s+/);
    out.set(keyword.toUpperCase(), rest.join(" ").toUpperCase());
  }
  return out;
}

async function authenticate(
  session: Session,
  offered: Map<string, string>,
  username: string,
  password: string,
): Promise<void> {
  const mechanisms = (offered.get("AUTH") ?? "").split(" ");
  if (mechanisms.includes("PLAIN")) {
    const token = base64(encoder.encode(`\0${username}\0${password}`));
    await session.command(`AUTH PLAIN ${token}`, [235], "AUTH PLAIN");
  } else if (mechanisms.includes("LOGIN")) {
    await session.command("AUTH LOGIN", [334], "AUTH LOGIN");
    await session.command(base64(encoder.encode(username)), [334], "AUTH LOGIN (user)");
    await session.command(base64(encoder.encode(password)), [235], "AUTH LOGIN (password)");
  } else {
    throw new SmtpError("Cannot send mail: the server offers neither AUTH PLAIN nor LOGIN");
  }
}

async function startTls(session: Session, options: SmtpOptions): Promise<void> {
  const tls = await Deno.startTls(session.conn as Deno.TcpConn, {
    hostname: options.host,
    ...(options.caCerts ? { caCerts: options.caCerts } : {}),
  });
  session.upgrade(tls);
  await tls.handshake();
}

async function exchange(
  session: Session,
  message: MailMessage,
  options: SmtpOptions,
  security: SmtpSecurity,
): Promise<void> {
  const name = options.clientName ?? "localhost";
  if (security === "tls") await startTls(session, options);
  await session.expect([220], "the greeting");
  let ehlo = await session.command(`EHLO ${name}`, [250], "EHLO");
  if (security === "starttls") {
    if (!extensions(ehlo).has("STARTTLS")) {
      throw new SmtpError("Cannot send mail: the server does not offer STARTTLS");
    }
    await session.command("STARTTLS", [220], "STARTTLS");
    await startTls(session, options);
    ehlo = await session.command(`EHLO ${name}`, [250], "EHLO");
  }
  if (options.username !== undefined) {
    if (security === "none") {
      throw new SmtpError("Cannot send mail: refusing to send a password without TLS");
    }
    await authenticate(session, extensions(ehlo), options.username, options.password ?? "");
  }
  await session.command(`MAIL FROM:<${message.from}>`, [250], "MAIL FROM");
  await session.command(`RCPT TO:<${message.to}>`, [250, 251], "RCPT TO");
  await session.command("DATA", [354], "DATA");
  await session.command(`${formatMessage(message)}.`, [250], "the message");
  await session.command("QUIT", [221], "QUIT").catch(() => undefined);
}

/**
 * Send one message.
 *
 * @param message From, to, subject, text, date.
 * @param options Server, security, credentials, deadline.
 * @returns When the server has accepted the message.
 * @throws {SmtpError} When the server refuses, breaks off or times out.
 * @throws {TypeError} When an address is not a bare address.
 * @throws {unknown} The reason of `options.signal` when it aborts.
 */
export async function sendMail(message: MailMessage, options: SmtpOptions): Promise<void> {
  formatMessage(message); // validate before connecting
  const security = options.security ?? "starttls";
  const timeoutMs = options.timeoutMs ?? 10_000;
  options.signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let session: Session | undefined;
  const abort = () => {
    try {
      session?.conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  };
  signal.addEventListener("abort", abort, { once: true });
  try {
    const conn = await Deno.connect({ hostname: options.host, port: options.port ?? 587, signal });
    session = new Session(conn);
    if (signal.aborted) abort();
    await exchange(session, message, options, security);
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) {
      throw new SmtpError(`Cannot send mail: no answer within ${timeoutMs} ms`, undefined, {
        cause: error,
      });
    }
    if (error instanceof SmtpError) throw error;
    throw new SmtpError(
      `Cannot send mail: ${error instanceof Error ? error.message : String(error)}`,
      undefined,
      { cause: error },
    );
  } finally {
    signal.removeEventListener("abort", abort);
    abort();
  }
}
