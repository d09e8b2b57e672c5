/**
 * The client's life: connect, hello, login (three attempts), chat, and
 * reconnect with backoff when the connection drops. Knows the protocol and
 * the transport, not the terminal: what to show and what to ask goes
 * through {@linkcode ClientIO}.
 *
 * @module
 */
import type { ChatEvent } from "../chat/message.ts";
import { type Clock, delay, type Random, systemClock } from "../util/clock.ts";
import { LineReader } from "../wire/framing.ts";
import {
  type ByeCode,
  type ClientFrame,
  encodeFrame,
  eventOf,
  MAX_RESUME_ROOMS,
  parseServerFrame,
  type ServerFrame,
  type WelcomeFrame,
} from "../wire/protocol.ts";
import type { Connection } from "../net/connection.ts";
import {
  classifyConnectError,
  connect,
  ConnectError,
  type ConnectOptions,
} from "../net/tls_client.ts";
import { TokenBucket } from "../chat/rate_limit.ts";
import { backoffDelay } from "./backoff.ts";
import { type GapStep, ResumeGaps } from "./resume_gaps.ts";
import { formatServerAddress, type ServerAddress } from "./server_address.ts";
import { isChatLine, UnackedLines } from "./unacked_lines.ts";
import { eventOfV2 } from "./v2_events.ts";

/**
 * The protocol version this client speaks: 2 (many rooms, resume, read
 * markers). A server whose hello does not list 2 is spoken to in version 1
 * (one room at a time).
 */
const CLIENT_VERSION = 2;

/** The versions this client can fall back to, best first. */
const CLIENT_VERSIONS = [2, 1] as const;

/** Largest frame accepted from the server (room history can be long). */
export const MAX_SERVER_FRAME_BYTES = 1 << 22;

/** Lines kept while not logged in. */
export const MAX_QUEUED_LINES = 1000;

/**
 * How long the server may take to say hello once TLS is up. A Banter server
 * says it at once; a server that waits for the client to speak first (HTTPS
 * without ALPN, another protocol) is named after this long.
 */
export const HELLO_TIMEOUT_MS = 10_000;

/** What the client holds to until the server's `welcome` says otherwise. */
export interface ServerLimits {
  /** Longest message, in characters (code points). */
  readonly messageChars: number;
  /** Most lines in one message. */
  readonly messageLines: number;
  /** The server's rate limit on lines sent. */
  readonly rate: { readonly burst: number; readonly perSecond: number };
}

/** Today's server: 4096 characters, one line, 10 lines at once then 2 a second. */
export const DEFAULT_LIMITS: ServerLimits = {
  messageChars: 4096,
  messageLines: 1,
  rate: { burst: 10, perSecond: 2 },
};

/**
 * How long the login replay is held for the pages of lines a resume left
 * out ({@linkcode ResumeGaps}); then it is shown with what came.
 */
export const GAP_WAIT_MS = 10_000;

/** How long a scripted `end` waits for replies to commands sent before it. */
export const END_WAIT_MS = 5000;

/** Commands whose reply comes later (so a scripted `end` waits for it). */
const SLOW_COMMANDS = /^(get_joke|\/joke)(\s|$)/i;

/** Reads `welcome.limits` (protocol v2) when the server sends it. */
function limitsOf(frame: WelcomeFrame): ServerLimits | undefined {
  const limits = frame.limits;
  if (limits === undefined) return undefined;
  const count = (value: number, fallback: number) => value >= 1 ? value : fallback;
  return {
    messageChars: count(limits.message_chars, DEFAULT_LIMITS.messageChars),
    messageLines: count(limits.message_lines, DEFAULT_LIMITS.messageLines),
    rate: {
      burst: count(limits.rate.burst, DEFAULT_LIMITS.rate.burst),
      perSecond: count(limits.rate.per_second, DEFAULT_LIMITS.rate.perSecond),
    },
  };
}

/** Client exit statuses (documented in `--help` and docs/RUNNING.md). */
export const EXIT = {
  ok: 0,
  connection: 1,
  usage: 2,
  auth: 3,
  locked: 4,
  removed: 5,
  protocol: 6,
  shutdown: 7,
} as const;

/** What the client shows and asks; implemented by client.ts. */
export interface ClientIO {
  /** A chat event to show. */
  event(event: ChatEvent, self: string): void;
  /** A status line (connecting, errors, goodbyes). */
  info(text: string): void;
  /** Ask for a user name; undefined when none can be had. */
  askUsername(): Promise<string | undefined>;
  /** Ask for a password; undefined when none can be had. */
  askPassword(): Promise<string | undefined>;
  /** Whether a failed login may be retried by asking again. */
  readonly canAsk: boolean;
  /**
   * The connection changed: connecting, logged in (`connected`, with the
   * protocol version the session speaks), or dropped.
   */
  connection?(
    state: "connecting" | "connected" | "disconnected",
    self: string,
    version?: 1 | 2,
  ): void;
}

/** Options for {@linkcode ChatClient}. */
export interface ChatClientOptions {
  /** How to connect; `hostname` and `port` name the server unless `servers` is given. */
  connect: ConnectOptions;
  /**
   * Servers to use, in order (`--host` repeated): the first connect tries
   * each in turn until one logs in; after a drop, each reconnect attempt
   * goes to the next one (round robin, from the one after the server lost),
   * with the usual backoff between attempts. @default the one in `connect`
   */
  servers?: readonly ServerAddress[];
  io: ClientIO;
  random: Random;
  /** Known user name (`--user`). */
  username?: string;
  /** Known password (file or environment). */
  password?: string;
  /** Reconnect after a drop, and retry a first login answered `bye busy`.
   * @default true */
  reconnect?: boolean;
  /** Give up after this many failed reconnects in a row (retries of a
   * first login the server answered `bye busy` count too). @default 20 */
  maxReconnects?: number;
  /**
   * Times the waits between reconnects (and connect timeouts, unless
   * `connect.clock` is set). @default systemClock
   */
  clock?: Clock;
  /** Overrides for the backoff bounds. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Client name sent in hello. */
  clientName?: string;
}

/** How one connection ended. */
type Ending =
  | {
    kind: "exit";
    code: number;
    message?: string;
    /** The fault is this server's (TLS, not Banter, protocol), so another may do. */
    server?: boolean;
  }
  | {
    kind: "dropped";
    message: string;
    shutdown?: boolean;
    busy?: boolean;
    /** The connection ended before the server said anything. */
    beforeHello?: boolean;
  };

/**
 * An attempt that failed at the server or on the way (not at the account
 * or by the user): another attempt, or another server, may succeed.
 */
interface Failure {
  kind: "failed";
  /** What failed, for the user. */
  message: string;
  /** The exit status when nothing more is tried. */
  code: number;
  /** Whether waiting may cure it (refused, timed out, a session dropped). */
  transient: boolean;
  /** The server said `bye busy`. */
  busy: boolean;
  /** A session ended (not a connect failure): a user who quit stops here. */
  dropped: boolean;
}

/** What to say when a port answers, but not in Banter. */
function notBanter(server: ServerAddress, why: string): string {
  return `Cannot connect to ${
    formatServerAddress(server)
  }: that port does not speak Banter (${why}); check --host and --port`;
}

function describeConnectError(error: ConnectError, server: ServerAddress): string {
  const name = formatServerAddress(server);
  switch (error.code) {
    case "refused":
      return `Cannot connect to ${name}: connection refused (is the server running?)`;
    case "unreachable":
      return `Cannot connect to ${name}: host unreachable or unknown`;
    case "timeout":
      return `Cannot connect to ${name}: timed out`;
    case "unknown_ca":
      return `TLS failure: the server's certificate is not signed by a trusted CA (unknown issuer; check --ca)`;
    case "name_mismatch":
      return `TLS failure: the server's certificate is not valid for the name "${server.hostname}"${
        error.validNames.length === 0
          ? ""
          : ` (it is valid for ${error.validNames.join(", ")}: use one of those with --host)`
      }`;
    case "expired":
      return `TLS failure: the server's certificate has expired`;
    case "not_yet_valid":
      return `TLS failure: the server's certificate is not valid yet (check the clocks)`;
    case "certificate_required":
      return `TLS failure: this server requires a client certificate: use --cert and --key`;
    case "certificate_refused":
      return `TLS failure: the server refused the client certificate`;
    case "http":
      return notBanter(server, "it answered HTTP");
    case "not_tls":
      return notBanter(server, "it answered, but not in TLS");
    case "other_protocol":
      return notBanter(server, "it is a TLS server for other protocols, such as HTTPS");
    case "tls":
      return `TLS failure: ${error.message}`;
  }
}

/** A chat client; {@linkcode run} drives it to its exit status. */
export class ChatClient {
  readonly #options: ChatClientOptions;
  readonly #stop = new AbortController();
  #username: string | undefined;
  #password: string | undefined;
  #send: ((frame: ClientFrame) => void) | undefined;
  #self = "";
  #quitting = false;
  #waiting = false;
  /** Failed reconnects in a row since the last login. */
  #failures = 0;
  /**
   * Lines waiting for a login or for the rate limit; `late` when typed while
   * not logged in; `room` where it was typed (version 2); `frame` for a
   * request other than a typed line.
   */
  readonly #queued: {
    text: string;
    late: boolean;
    room?: string;
    frame?: ClientFrame;
    /** A page of a resume's gap (dropped when its session ends). */
    gap?: boolean;
  }[] = [];
  /** The protocol version of the current (or last) session. */
  #version: 1 | 2 = CLIENT_VERSION;
  /** Per room, the newest message id seen: `hello.resume` on a reconnect. */
  readonly #lastIds = new Map<string, number>();
  /** Per room, the read marker as last sent or heard (so none is sent twice). */
  readonly #readMarks = new Map<string, number>();
  #limits: ServerLimits = DEFAULT_LIMITS;
  /** The servers, in order (never empty). */
  readonly #servers: readonly ServerAddress[];
  /** The server of the current (or last) attempt. */
  #server: ServerAddress;
  #bucket: TokenBucket | undefined;
  #pumpTimer: number | undefined;
  /** Slow commands sent whose reply has not come yet. */
  #awaiting = 0;
  /** A scripted `end` held back until those replies come. */
  #heldEnd: { timer: number } | undefined;
  /** When a logged-in session last dropped. */
  #droppedAt: number | undefined;
  /** Bounds the wait for the pages of a resume's gaps. */
  #gapTimer: number | undefined;
  /** Chat lines sent (version 2) and not yet answered, or in doubt after a drop. */
  readonly #unacked = new UnackedLines();

  /** @param options Where to connect and how to talk to the user. */
  constructor(options: ChatClientOptions) {
    this.#options = options;
    const { hostname, port } = options.connect;
    this.#servers = options.servers?.length ? [...options.servers] : [{ hostname, port }];
    this.#server = this.#serverAt(0);
    this.#username = options.username;
    this.#password = options.password;
  }

  /**
   * Send a typed line (chat text, a command, `end`). Lines typed while not
   * logged in wait (up to {@linkcode MAX_QUEUED_LINES}) and go out in order
   * after the next login.
   *
   * @param text What the user typed.
   * @param room The room it was typed in (sent with it in version 2).
   * @returns False when the line was dropped (queue full).
   */
  say(text: string, room?: string): boolean {
    const trimmed = text.trim();
    const ending = trimmed === "end" || trimmed === "/quit";
    if (ending) this.#quitting = true;
    if (this.#queued.length >= MAX_QUEUED_LINES) return false;
    // Counted when typed, not when sent: an `end` typed before the login
    // (or while the pace holds lines back) still waits for the reply.
    if (SLOW_COMMANDS.test(trimmed)) this.#awaiting++;
    if (ending && this.#awaiting > 0 && !this.#options.io.canAsk && this.#heldEnd === undefined) {
      // Scripted: let the replies to commands already sent arrive first.
      const timer = this.#clock.setTimeout(() => this.#releaseEnd(), END_WAIT_MS);
      this.#heldEnd = { timer };
      this.#heldText = text;
      return true;
    }
    this.#queued.push({
      text,
      late: this.#send === undefined,
      ...(room === undefined ? {} : { room }),
    });
    this.#pump();
    return true;
  }

  /**
   * Mark `room` read up to the newest message seen in it (version 2; paced
   * with typed lines, since it spends a token of the server's rate). Does
   * nothing when not logged in in version 2, when no message was seen, or
   * when the marker is there already.
   *
   * @param room Room name.
   */
  read(room: string): void {
    const lastRead = this.#lastIds.get(room);
    if (this.#send === undefined || this.#version !== 2 || lastRead === undefined) return;
    if (this.#queued.length >= MAX_QUEUED_LINES) return;
    if ((this.#readMarks.get(room) ?? 0) >= lastRead) return;
    this.#readMarks.set(room, lastRead);
    this.#queued.push({
      text: "",
      late: false,
      frame: { type: "read", room, last_read: lastRead },
    });
    this.#pump();
  }

  /**
   * Fetch the newest `limit` DMs with `user` (version 2: DMs are not
   * replayed at login); they come as a `history` event.
   *
   * @param user The other side of the conversation.
   * @param limit How many, at most the server's history limit.
   */
  fetchDms(user: string, limit: number): void {
    if (this.#send === undefined || this.#version !== 2) return;
    if (this.#queued.length >= MAX_QUEUED_LINES) return;
    this.#queued.push({ text: "", late: false, frame: { type: "history", with: user, limit } });
    this.#pump();
  }

  /**
   * Mark the DM conversation with `user` read up to `lastRead` (version 2).
   *
   * @param user The other side of the conversation.
   * @param lastRead The newest DM id shown.
   */
  readDms(user: string, lastRead: number): void {
    if (this.#send === undefined || this.#version !== 2) return;
    if (this.#queued.length >= MAX_QUEUED_LINES) return;
    const key = `@${user.toLowerCase()}`;
    if ((this.#readMarks.get(key) ?? 0) >= lastRead) return;
    this.#readMarks.set(key, lastRead);
    this.#queued.push({
      text: "",
      late: false,
      frame: { type: "read", with: user, last_read: lastRead },
    });
    this.#pump();
  }

  /** The protocol version spoken (of the last session when not connected). */
  get version(): 1 | 2 {
    return this.#version;
  }

  /**
   * The newest message id seen in `room`.
   *
   * @param room Room name.
   * @returns The id, or undefined when none was seen.
   */
  lastId(room: string): number | undefined {
    return this.#lastIds.get(room);
  }

  /** The server's limits (from `welcome`, else {@linkcode DEFAULT_LIMITS}). */
  get limits(): ServerLimits {
    return this.#limits;
  }

  /** Lines typed and not yet sent (waiting for a login or the rate limit). */
  get queued(): number {
    return this.#queued.length;
  }

  #heldText = "end";

  #releaseEnd(): void {
    const held = this.#heldEnd;
    if (held === undefined) return;
    this.#heldEnd = undefined;
    this.#clock.clearTimeout(held.timer);
    this.#queued.push({ text: this.#heldText, late: false });
    this.#pump();
  }

  /** A reply to a slow command came (a bot line or a warning). */
  #replied(): void {
    if (this.#awaiting === 0) return;
    this.#awaiting--;
    if (this.#awaiting === 0) this.#releaseEnd();
  }

  /** Send queued lines as the rate limit allows; wake up when it allows more. */
  #pump(): void {
    const send = this.#send;
    if (send === undefined || this.#pumpTimer !== undefined) return;
    // A margin under the server's rate, so that jitter on the way never
    // makes a line arrive before the server's bucket has its token.
    this.#bucket ??= new TokenBucket(this.#clock, {
      burst: Math.max(1, this.#limits.rate.burst - 1),
      perSecond: this.#limits.rate.perSecond * 0.9,
    });
    while (this.#queued.length > 0 && this.#bucket.take()) {
      const line = this.#queued.shift();
      if (line === undefined) break;
      if (line.frame !== undefined) {
        send(line.frame);
        continue;
      }
      const room = this.#version === 2 && line.room !== undefined ? { room: line.room } : {};
      // Version 2 answers an id with ack (stored) or error: tracked, so a
      // line lost with the connection is sent again (see UnackedLines).
      const id = this.#version === 2 && isChatLine(line.text)
        ? { id: this.#unacked.sent(line.text, line.room) }
        : {};
      send({ type: "say", text: line.text, ...room, ...id });
    }
    if (this.#queued.length === 0) return;
    this.#pumpTimer = this.#clock.setTimeout(() => {
      this.#pumpTimer = undefined;
      this.#pump();
    }, Math.max(1, this.#bucket.waitMs()));
  }

  /** Leave: say `end` (now or after login), and stop waiting to reconnect. */
  quit(): void {
    if (!this.#quitting) this.say("end");
    this.#quitting = true;
    if (this.#waiting) this.#stop.abort();
  }

  /**
   * Connect, log in and chat until the session ends for good.
   *
   * @returns The exit status.
   */
  async run(): Promise<number> {
    const { io } = this.#options;
    const reconnect = this.#options.reconnect ?? true;
    const servers = this.#servers;
    const several = servers.length > 1;
    let index = 0;
    let everLoggedIn = false;
    // A server that answered `bye busy` is there: until the first login,
    // failures after that are retried too, not only after a login.
    let toldBusy = false;
    /** Servers that failed on the first pass down the list. */
    const tried: string[] = [];
    /** Failures in a row that waiting would not cure (TLS, not Banter), while retrying. */
    let brokenInARow = 0;
    for (;;) {
      const server = this.#serverAt(index);
      this.#server = server;
      const failure = await this.#attempt(() => everLoggedIn, () => {
        everLoggedIn = true;
        this.#failures = 0;
        brokenInARow = 0;
      });
      if (failure.kind === "exit") {
        if (failure.message) io.info(failure.message);
        return failure.code;
      }
      const next = (index + 1) % servers.length;
      // Busy before the first login: try again later, as the server asks.
      // A quit() meanwhile only queued `end` behind the lines still to send,
      // so it does not stop the retry; quit() during the wait does.
      const busyFirst = !everLoggedIn && failure.busy;
      toldBusy ||= busyFirst;
      if (!everLoggedIn && !toldBusy) {
        // First connect: each server once, in turn, at once.
        tried.push(formatServerAddress(server));
        if (next !== 0 && !this.#stop.signal.aborted) {
          io.info(`${failure.message}; trying ${formatServerAddress(this.#serverAt(next))}`);
          index = next;
          continue;
        }
        io.info(failure.message);
        if (several) io.info(`Cannot connect: tried every server in turn: ${tried.join(", ")}`);
        return failure.code;
      }
      if (
        !reconnect || this.#stop.signal.aborted ||
        (failure.dropped && this.#quitting && !busyFirst)
      ) {
        io.info(failure.message);
        // Input that ended before any login did not get its lines through.
        if (failure.dropped && this.#quitting && everLoggedIn) return EXIT.ok;
        return failure.code;
      }
      brokenInARow = failure.transient ? 0 : brokenInARow + 1;
      if (brokenInARow >= servers.length) {
        io.info(failure.message);
        return failure.code;
      }
      index = next;
      const verb = failure.dropped && everLoggedIn ? "reconnecting" : "retrying";
      const stopped = await this.#backOff(failure.message, verb, this.#serverAt(next));
      if (stopped !== undefined) return stopped;
    }
  }

  /** The server at `index` in the list (the first when out of range). */
  #serverAt(index: number): ServerAddress {
    return this.#servers[index] ?? this.#servers[0] ?? this.#options.connect;
  }

  /**
   * Connect to the current server and hold the session to its end.
   *
   * @param everLoggedIn Whether any session logged in before (or this one).
   * @param onLogin Called at the login.
   * @returns How it ended: for good, or a failure that another attempt may cure.
   */
  async #attempt(
    everLoggedIn: () => boolean,
    onLogin: () => void,
  ): Promise<Failure | Extract<Ending, { kind: "exit" }>> {
    const { io } = this.#options;
    const server = this.#server;
    io.connection?.("connecting", this.#self);
    let conn: Connection;
    try {
      conn = await connect({
        clock: this.#clock,
        ...this.#options.connect,
        hostname: server.hostname,
        port: server.port,
      });
    } catch (error) {
      const e = classifyConnectError(error);
      return {
        kind: "failed",
        message: describeConnectError(e, server),
        code: EXIT.connection,
        transient: e.code === "refused" || e.code === "unreachable" || e.code === "timeout",
        busy: false,
        dropped: false,
      };
    }
    const result = await this.#session(conn, onLogin);
    conn.close();
    if (this.#pumpTimer !== undefined) this.#clock.clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    if (this.#heldEnd !== undefined) this.#clock.clearTimeout(this.#heldEnd.timer);
    this.#clock.clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#unacked.dropped();
    // A gap's pages belong to the session that asked; the next one resumes anew.
    this.#queued.splice(0, this.#queued.length, ...this.#queued.filter((l) => !l.gap));
    if (everLoggedIn() && this.#droppedAt === undefined) this.#droppedAt = this.#clock.now();
    io.connection?.("disconnected", this.#self);
    if (result.kind === "exit") {
      if (!result.server) return result;
      const message = result.message ?? "Cannot chat: the server ended the session";
      return {
        kind: "failed",
        message,
        code: result.code,
        transient: false,
        busy: false,
        dropped: false,
      };
    }
    const busy = result.busy === true;
    return {
      kind: "failed",
      message: result.beforeHello && !everLoggedIn() ? this.#closedBeforeHello() : result.message,
      code: result.shutdown ? EXIT.shutdown : EXIT.connection,
      // A session can be had again only where one was had, or was promised.
      transient: everLoggedIn() || busy,
      busy,
      dropped: true,
    };
  }

  /** " on HOST:PORT" when there are several servers to tell apart, else "". */
  #onServer(): string {
    return this.#servers.length === 1 ? "" : ` on ${formatServerAddress(this.#server)}`;
  }

  get #clock(): Clock {
    return this.#options.clock ?? systemClock;
  }

  /**
   * A Banter server says hello first; one that closes the connection right
   * after the handshake refused the client certificate, or wanted one.
   */
  #closedBeforeHello(): string {
    const { cert } = this.#options.connect;
    const closed = `Cannot log in to ${
      formatServerAddress(this.#server)
    }: the server closed the connection before saying hello`;
    return cert === undefined
      ? `${closed}; this server requires a client certificate: use --cert and --key`
      : `${closed}; it refused the client certificate (--cert): check that it is signed by the server's client CA, current, and made for a client`;
  }

  /**
   * Count one more failure in a row, then wait its backoff delay on the
   * clock, saying so; give up past `maxReconnects`.
   *
   * @param message What failed, for the user.
   * @param verb What happens after the wait.
   * @param next The server tried after the wait (named when there are several).
   * @returns An exit status to stop with, or undefined to try again.
   */
  async #backOff(
    message: string,
    verb: "retrying" | "reconnecting",
    next: ServerAddress,
  ): Promise<number | undefined> {
    const maxReconnects = this.#options.maxReconnects ?? 20;
    this.#failures++;
    if (this.#failures > maxReconnects) {
      this.#options.io.info(`${message}; giving up after ${maxReconnects} attempts`);
      return EXIT.connection;
    }
    const ms = backoffDelay(this.#failures - 1, this.#options.random, this.#options.backoff);
    const what = this.#servers.length === 1
      ? verb
      : verb === "reconnecting"
      ? `reconnecting to ${formatServerAddress(next)}`
      : `trying ${formatServerAddress(next)}`;
    this.#options.io.info(`${message}; ${what} in ${Math.ceil(ms / 1000)} s`);
    this.#waiting = true;
    try {
      await delay(this.#clock, ms, this.#stop.signal);
    } catch (error) {
      if (!this.#stop.signal.aborted) throw error; // quit() ends the wait early
    } finally {
      this.#waiting = false;
    }
    return this.#stop.signal.aborted ? EXIT.ok : undefined;
  }

  async #session(conn: Connection, onLogin: () => void): Promise<Ending> {
    let writing = Promise.resolve();
    const send = (frame: ClientFrame) => {
      const bytes = encodeFrame(frame);
      writing = writing.then(() => conn.sink.write(bytes)).catch(() => undefined);
    };
    const lines = new LineReader(conn.source, { maxFrameBytes: MAX_SERVER_FRAME_BYTES });
    const stop = () => void lines.cancel();
    this.#stop.signal.addEventListener("abort", stop, { once: true });
    const heard = { hello: false };
    try {
      return await this.#converse(lines, send, onLogin, heard);
    } catch (error) {
      if (error instanceof ConnectError) {
        return { kind: "exit", code: EXIT.connection, message: error.message, server: true };
      }
      const e = classifyConnectError(error);
      if (
        e.code === "certificate_required" || e.code === "certificate_refused"
      ) {
        return {
          kind: "exit",
          code: EXIT.connection,
          message: describeConnectError(e, this.#server),
          server: true,
        };
      }
      if (
        !heard.hello && (e.code === "unreachable" || error instanceof Deno.errors.UnexpectedEof)
      ) {
        return { kind: "dropped", message: "Connection lost", beforeHello: true };
      }
      if (
        error instanceof Error && error.name === "FrameError" ||
        error instanceof Error && error.name === "ProtocolError"
      ) {
        return {
          kind: "exit",
          code: EXIT.protocol,
          message: `Protocol error from server: ${error.message}`,
          // Before the login another server may speak better; after it, stop.
          server: this.#send === undefined,
        };
      }
      return { kind: "dropped", message: "Connection lost" };
    } finally {
      this.#send = undefined;
      this.#stop.signal.removeEventListener("abort", stop);
      await writing;
    }
  }

  /**
   * The server's first frame: a port that stays silent past
   * {@linkcode HELLO_TIMEOUT_MS}, or answers HTTP or anything not JSON, does
   * not speak Banter.
   */
  async #first(lines: LineReader): Promise<ServerFrame | Ending> {
    const server = this.#server;
    let timer: number | undefined;
    const silent = new Promise<"silent">((resolve) => {
      timer = this.#clock.setTimeout(() => resolve("silent"), HELLO_TIMEOUT_MS);
    });
    let line: string | undefined | "silent";
    try {
      line = await Promise.race([lines.next(), silent]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
    if (line === "silent") {
      void lines.cancel();
      const seconds = Math.round(HELLO_TIMEOUT_MS / 1000);
      return {
        kind: "exit",
        code: EXIT.connection,
        message: notBanter(server, `no hello within ${seconds} s`),
        server: true,
      };
    }
    if (line === undefined) {
      return { kind: "dropped", message: "Connection closed by the server", beforeHello: true };
    }
    if (line.startsWith("HTTP/")) {
      return {
        kind: "exit",
        code: EXIT.connection,
        message: notBanter(server, "it answered HTTP"),
        server: true,
      };
    }
    try {
      return parseServerFrame(line);
    } catch (error) {
      if (!(error instanceof Error && error.name === "ProtocolError")) throw error;
      return {
        kind: "exit",
        code: EXIT.connection,
        message: notBanter(server, "its first line is not a Banter frame"),
        server: true,
      };
    }
  }

  async #converse(
    lines: LineReader,
    send: (frame: ClientFrame) => void,
    onLogin: () => void,
    heard: { hello: boolean },
  ): Promise<Ending> {
    const { io } = this.#options;
    const next = async (): Promise<ServerFrame | undefined> => {
      const line = await lines.next();
      return line === undefined ? undefined : parseServerFrame(line);
    };
    const first = await this.#first(lines);
    if (!("type" in first)) return first;
    heard.hello = true;
    if (first.type === "bye") return this.#bye(first.code, first.message);
    if (first.type !== "hello") {
      return {
        kind: "exit",
        code: EXIT.protocol,
        message: "Protocol error: the server did not say hello",
        server: true,
      };
    }
    const version = CLIENT_VERSIONS.find((v) =>
      first.version === v || first.versions?.includes(v) === true
    );
    if (version === undefined) {
      return {
        kind: "exit",
        code: EXIT.protocol,
        message:
          `Protocol error: server speaks version ${first.version}, this client ${CLIENT_VERSION}`,
        server: true,
      };
    }
    if (version !== this.#version) this.#lastIds.clear();
    this.#version = version;
    const resume = Object.fromEntries([...this.#lastIds].slice(-MAX_RESUME_ROOMS));
    const resuming = version === 2 && this.#lastIds.size > 0;
    send({
      type: "hello",
      version,
      client: this.#options.clientName ?? "banter-client",
      ...(resuming ? { resume } : {}),
    });
    // Lines the replay leaves out (more were missed than it holds) are
    // fetched before it is shown.
    const gaps = resuming ? new ResumeGaps(new Map(Object.entries(resume))) : undefined;
    for (;;) {
      const frame = await next();
      if (frame === undefined) {
        return { kind: "dropped", message: "Connection closed by the server" };
      }
      switch (frame.type) {
        case "auth": {
          const username = this.#username ?? await io.askUsername();
          const password = username === undefined
            ? undefined
            : this.#password ?? await io.askPassword();
          if (username === undefined || password === undefined) {
            // On a terminal the user quit at the prompt (Ctrl-C, Ctrl-D):
            // leave quietly, no login sent. Scripted, it is a usage error.
            if (io.canAsk) return { kind: "exit", code: EXIT.ok };
            return {
              kind: "exit",
              code: EXIT.usage,
              message:
                "Login needs a user name and password (--user, --password-file or BANTER_PASSWORD)",
            };
          }
          this.#username = username;
          this.#password = password;
          send({ type: "login", username, password });
          break;
        }
        case "auth_failed":
          if (frame.reason === "locked") {
            return { kind: "exit", code: EXIT.locked, message: frame.message };
          }
          this.#password = undefined;
          if (!io.canAsk) {
            // Scripted: no "attempts left", nothing will be asked.
            return {
              kind: "exit",
              code: EXIT.auth,
              message: "Login failed: wrong user name or password",
            };
          }
          io.info(frame.message);
          if (this.#options.username === undefined) this.#username = undefined;
          break;
        case "welcome":
          this.#self = frame.user;
          this.#username = frame.user;
          this.#send = send;
          {
            const limits = limitsOf(frame) ?? this.#limits;
            // A server restarted with another rate: pace to the new one.
            if (JSON.stringify(limits.rate) !== JSON.stringify(this.#limits.rate)) {
              this.#bucket = undefined;
            }
            this.#limits = limits;
          }
          onLogin();
          io.connection?.("connected", frame.user, this.#version);
          if (this.#droppedAt === undefined) {
            io.info(
              `Logged in as ${frame.user}${this.#onServer()}. Type /help for commands, end to leave.`,
            );
          } else {
            const away = Math.round((this.#clock.now() - this.#droppedAt) / 1000);
            const late = this.#queued.filter((l) => l.late).length;
            const sent = late === 0
              ? ""
              : `; ${late} ${late === 1 ? "line" : "lines"} typed meanwhile sent late`;
            const to = this.#servers.length === 1 ? "" : ` to ${formatServerAddress(this.#server)}`;
            io.info(`Reconnected${to} after ${away}s${sent}`);
            this.#droppedAt = undefined;
          }
          this.#pump();
          break;
        case "bye":
          return this.#bye(frame.code, frame.message);
        case "ping":
          send({ type: "pong", id: frame.id });
          break;
        case "error":
          // Version 2: an error naming a request is an answer, not the end.
          io.info(
            frame.id === undefined ? `Server reports an error: ${frame.message}` : frame.message,
          );
          if (gaps !== undefined) this.#gapStep(gaps, gaps.failed(frame.id));
          this.#unacked.answered(frame.id);
          break;
        case "ack":
          this.#unacked.answered(frame.id);
          break;
        case "hello":
        case "pong":
          break;
        default: {
          const event = this.#version === 2 ? eventOfV2(frame) : eventOf(frame);
          if (event === undefined) break;
          if (gaps === undefined) this.#deliver(event);
          else this.#gapStep(gaps, gaps.take(event));
        }
      }
    }
  }

  /** An event from the server, passed on to the user. */
  #deliver(event: ChatEvent): void {
    this.#seen(event);
    if (event.kind === "message") this.#unacked.echoed(event, this.#self);
    else if (event.kind === "room") this.#unacked.replayed(event, this.#self);
    if (event.kind === "message" && event.bot) this.#replied();
    else if (event.kind === "notice" && event.level !== "info") this.#replied();
    this.#options.io.event(event, this.#self);
    if (event.kind === "ready") this.#resendLost();
  }

  /** After a login replay: lines the last session lost are sent again, doubtful ones named. */
  #resendLost(): void {
    const { resend, unknown } = this.#unacked.settle();
    const { io } = this.#options;
    for (const line of unknown) {
      io.info(
        `Not known whether this line was stored before the connection was lost: ${line.text}`,
      );
    }
    if (resend.length === 0) return;
    io.info(
      `${resend.length} ${
        resend.length === 1 ? "line" : "lines"
      } sent again: the server had not stored ${
        resend.length === 1 ? "it" : "them"
      } when the connection was lost`,
    );
    this.#queued.unshift(...resend.map((line) => ({ ...line, late: true })));
    this.#pump();
  }

  /**
   * Do what a step of the resume's gap filling says: send its requests
   * (first in line, paced), pass on what it releases, and bound the wait
   * while it holds events back.
   */
  #gapStep(gaps: ResumeGaps, step: GapStep): void {
    const release = (outputs: GapStep["deliver"]) => {
      for (const output of outputs) {
        if ("info" in output) this.#options.io.info(output.info);
        else this.#deliver(output.event);
      }
    };
    release(step.deliver);
    if (step.requests.length > 0) {
      const pages = step.requests.map((frame) => ({ text: "", late: false, frame, gap: true }));
      this.#queued.unshift(...pages);
      this.#pump();
    }
    if (!gaps.filling) {
      this.#clock.clearTimeout(this.#gapTimer);
      this.#gapTimer = undefined;
    } else if (this.#gapTimer === undefined) {
      this.#gapTimer = this.#clock.setTimeout(() => {
        this.#gapTimer = undefined;
        release(gaps.flush());
      }, GAP_WAIT_MS);
    }
  }

  /** Keep the newest message id per room, for `resume`. */
  #seen(event: ChatEvent): void {
    if (event.kind === "message") {
      this.#lastIds.set(event.room, Math.max(event.id, this.#lastIds.get(event.room) ?? 0));
    } else if (event.kind === "room") {
      const newest = event.history.at(-1)?.id ?? 0;
      const id = Math.max(newest, this.#lastIds.get(event.room) ?? 0);
      if (id > 0) this.#lastIds.set(event.room, id);
      if (event.lastRead !== undefined) this.#readMarks.set(event.room, event.lastRead);
    } else if (event.kind === "read" && event.room !== undefined) {
      const mark = Math.max(event.lastRead, this.#readMarks.get(event.room) ?? 0);
      this.#readMarks.set(event.room, mark);
    } else if (event.kind === "part" && event.user === this.#self) {
      this.#lastIds.delete(event.room);
      this.#readMarks.delete(event.room);
    }
  }

  #bye(code: ByeCode, message: string): Ending {
    switch (code) {
      case "end":
        return { kind: "exit", code: EXIT.ok, message };
      case "denied":
        return { kind: "exit", code: EXIT.auth, message };
      case "locked":
        return { kind: "exit", code: EXIT.locked, message };
      case "kicked":
      case "banned":
      case "replaced":
      case "too_many_sessions": // reconnecting would close the newer session in turn
        return { kind: "exit", code: EXIT.removed, message };
      case "protocol_error":
        return {
          kind: "exit",
          code: EXIT.protocol,
          message: `Protocol error: ${message}`,
        };
      case "timeout":
        return this.#send === undefined
          ? { kind: "exit", code: EXIT.auth, message }
          : { kind: "dropped", message };
      case "shutdown":
        return { kind: "dropped", message, shutdown: true };
      case "overflow":
        return { kind: "dropped", message };
      case "busy":
        return { kind: "dropped", message, busy: true };
    }
  }
}
