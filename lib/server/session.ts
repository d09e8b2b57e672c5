/**
 * Per-connection glue: framing + protocol + login + chat member. Knows the
 * wire (through protocol.ts) and the chat domain (through small interfaces),
 * never a socket.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { BannedError, NameTakenError } from "../chat/hub.ts";
import { type BanRecord, describeBan } from "../chat/bans.ts";
import { TokenBucket } from "../chat/rate_limit.ts";
import type { ChatEvent, CloseReason, Member } from "../chat/message.ts";
import type { ChatLimits } from "../chat/hub.ts";
import type { ChatRequest, Outcome } from "../chat/request.ts";
import type { Clock } from "../util/clock.ts";
import { LineReader } from "../wire/framing.ts";
import { PeerError } from "../wire/peer_error.ts";
import { Counter } from "./prometheus.ts";
import { Outbox } from "./outbox.ts";
import type { FlushBatch } from "./flush_batch.ts";
import type { DeferredFlushes } from "./deferred_flushes.ts";
import type { TurnBudget } from "./turn_budget.ts";
import {
  DEFAULT_PRE_LOGIN_MAX_FRAME_BYTES,
  DEFAULT_PRE_LOGIN_PING_BURST,
  DEFAULT_PRE_LOGIN_PINGS_PER_SECOND,
  DEFAULT_PRE_LOGIN_READ_BURST_BYTES,
  DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND,
  PRE_LOGIN_MAX_DEPTH,
  PreLoginError,
  ReadBudget,
} from "./read_budget.ts";
import { nestsDeeperThan } from "../wire/json_nesting.ts";
import { escapeUntrusted } from "../util/untrusted_text.ts";
import {
  type ByeCode,
  type ClientFrame,
  encodeEvent,
  encodeFrame,
  encodeRoomEvent,
  HELLO_VERSION,
  negotiateVersion,
  parseClientFrame,
  PROTOCOL_VERSIONS,
  ProtocolError,
  type ServerFrame,
} from "../wire/protocol.ts";
import type { Connection } from "../net/connection.ts";

const log = getLogger(["banter", "session"]);
const audit = getLogger(["banter", "audit"]);

const BANNED_MESSAGE = "You are banned from this server";
const ACCOUNT_CHANGED_MESSAGE = "Your account was changed while you logged in: log in again";

/** Attempts a connection gets before access is denied. */
export const LOGIN_ATTEMPTS = 3;

/** Outcome of one login attempt (see lib/auth/login.ts). */
export type LoginResult =
  | { ok: true; user: LoggedInUser }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "locked"; retryAfterMs: number; scope?: "account" | "ip" }
  | { ok: false; reason: "busy"; message: string };

/** Who logged in: `id` is the account's stable id (DMs and rate limits
 * follow it, see `Member.account`). */
export interface LoggedInUser {
  readonly name: string;
  readonly role: "user" | "admin";
  readonly id?: string;
}

/** What the session needs from authentication. */
export interface SessionAuth {
  login(
    request: { username: string; password: string; ip: string },
  ): Promise<LoginResult>;
  loginWithCertificate(commonName: string): Promise<LoginResult>;
  /** The user a login returned as the account is now (its current role),
   * or `undefined` when the account was removed or its password changed
   * since; asked synchronously just before entering the chat. */
  current(user: LoggedInUser): LoggedInUser | undefined;
}

/** Session tokens, as the session uses them (see lib/auth/session_tokens.ts). */
export interface SessionTokenStore {
  issue(account: string): Promise<string>;
  check(token: string): Promise<string | undefined>;
  revoke(token: string): Promise<void>;
}

/** What the session needs from the chat hub. */
export interface SessionHub {
  enter(member: Member): {
    input(text: string): void;
    request(request: ChatRequest): Outcome;
    leave(reason?: string): void;
  };
  isBanned(name: string): boolean;
  /** Who banned `name`, when and why, for the `bye banned` message. */
  banOf?(name: string): BanRecord | undefined;
  /** Told to version 2 clients in `welcome`. @default none told */
  readonly limits?: ChatLimits;
}

/** Limits and timings of a session. */
export interface SessionLimits {
  /** Largest frame in bytes. */
  maxFrameBytes: number;
  /** Bytes queued for a slow reader before it is dropped. */
  outboxBytes: number;
  /** Time from connect to a finished login, on the session's clock. */
  loginTimeoutMs: number;
  /** What a connection may do before login (see lib/server/read_budget.ts). @default the DEFAULT_PRE_LOGIN_* values */
  preLogin?: Partial<PreLoginLimits>;
}

/** Limits that hold until login. */
export interface PreLoginLimits {
  /** Largest frame in bytes (at most `maxFrameBytes`). */
  maxFrameBytes: number;
  /** Bytes read at once before reads are paced. */
  readBurstBytes: number;
  /** Bytes read per second past the burst. */
  readBytesPerSecond: number;
  /** Pings answered at once; one more closes the connection. */
  pingBurst: number;
  /** Pings per second past the burst. */
  pingsPerSecond: number;
}

const PRE_LOGIN_DEFAULTS: PreLoginLimits = {
  maxFrameBytes: DEFAULT_PRE_LOGIN_MAX_FRAME_BYTES,
  readBurstBytes: DEFAULT_PRE_LOGIN_READ_BURST_BYTES,
  readBytesPerSecond: DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND,
  pingBurst: DEFAULT_PRE_LOGIN_PING_BURST,
  pingsPerSecond: DEFAULT_PRE_LOGIN_PINGS_PER_SECOND,
};

/** What sessions count (see lib/metrics.ts); integer increments only. */
export interface SessionCounters {
  /** `say` frames from a logged-in user. */
  readonly messagesIn: Counter;
  /** Chat events queued for the client. */
  readonly messagesOut: Counter;
  readonly loginsOk: Counter;
  readonly loginsFailed: Counter;
  /** Logins answered `bye busy` unchecked (login queue full, logins paused). */
  readonly loginsBusy: Counter;
  /** Sessions dropped because the client did not read. */
  readonly backpressureDrops: Counter;
  /** Reads paused because a connection passed its pre-login byte budget. */
  readonly preLoginReadPauses: Counter;
}

function uncounted(): SessionCounters {
  return {
    messagesIn: new Counter(),
    messagesOut: new Counter(),
    loginsOk: new Counter(),
    loginsFailed: new Counter(),
    loginsBusy: new Counter(),
    backpressureDrops: new Counter(),
    preLoginReadPauses: new Counter(),
  };
}

/** Everything a session is wired to. */
export interface SessionOptions {
  hub: SessionHub;
  auth: SessionAuth;
  /** Time (idle tracking) and timers (login timeout, outbox stall). */
  clock: Clock;
  limits: SessionLimits;
  /** Server name and version for `hello`. */
  serverName: string;
  /** Ask for a password even when a client certificate names a user. */
  requirePassword: boolean;
  /** Where traffic and logins are counted. @default counters nobody reads */
  counters?: SessionCounters;
  /** Session tokens (login by token, `want_token`, `logout`). @default none: token logins fail */
  tokens?: SessionTokenStore;
  /** Runs before bytes go out (see `OutboxOptions.beforeWrite` in lib/outbox.ts). */
  beforeWrite?: () => void;
  /** One flush per turn for every session's outbox (see lib/server/flush_batch.ts). @default one each */
  flushes?: FlushBatch;
  /** Where joins, leaves and presence wait on a busy connection (see `Outbox.pushDeferred`). @default none: sent at once */
  deferrals?: DeferredFlushes;
  /**
   * The server's time per event-loop turn for handling frames: past it, the
   * session reads its next frame in the next turn (see lib/server/turn_budget.ts).
   * @default none: every frame that is there is handled at once
   */
  turns?: TurnBudget;
  /** Called with the live session once it exists (for heartbeats). */
  onOpen?: (session: Session) => void;
  /** Called when the session ends. */
  onClose?: (session: Session) => void;
}

/** Why a session ended; `lost` means the peer is gone, so no goodbye. */
class SessionClosed extends Error {
  constructor(
    readonly code: ByeCode,
    message: string,
    readonly lost = false,
  ) {
    super(message);
    this.name = "SessionClosed";
  }
}

const CONNECTION_LOST = () => new SessionClosed("end", "Connection lost", true);

/** One connected client, from hello to goodbye. */
export class Session {
  readonly #conn: Connection;
  readonly #options: SessionOptions;
  readonly #outbox: Outbox;
  readonly #counters: SessionCounters;
  #lastSeen: number;
  #pingId = 0;
  #ended: Promise<void> | undefined;
  #user: string | undefined;
  /** The protocol version this session speaks, once the client said its own. */
  #version: 1 | 2 = 1;
  #resume: Readonly<Record<string, number>> | undefined;
  /** The token this session logged in with or was given, revoked by `logout`. */
  #token: string | undefined;
  #wantToken = false;
  #onClosed: ((reason: SessionClosed) => void) | undefined;

  /**
   * @param conn The connection; the session owns it from now on.
   * @param options Hub, auth, limits.
   */
  constructor(conn: Connection, options: SessionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#lastSeen = options.clock.now();
    this.#counters = options.counters ?? uncounted();
    this.#outbox = new Outbox(conn.sink, {
      maxBytes: options.limits.outboxBytes,
      clock: options.clock,
      ...(options.beforeWrite ? { beforeWrite: options.beforeWrite } : {}),
      ...(options.flushes ? { flushes: options.flushes } : {}),
      ...(options.deferrals ? { deferrals: options.deferrals } : {}),
      onOverflow: () => {
        this.#counters.backpressureDrops.inc();
        log.warn("Dropping {user} at {address}: outbound queue overflowed", {
          user: this.#user ?? "-",
          address: conn.peer.address,
        });
        this.#abort(new SessionClosed("overflow", "Too slow to receive"));
      },
      onError: () => this.#abort(CONNECTION_LOST()),
    });
  }

  /** Remote address. */
  get address(): string {
    return this.#conn.peer.address;
  }

  /** Logged-in user name, once known. */
  get user(): string | undefined {
    return this.#user;
  }

  /** Bytes charged for this client's outbound queue (see `Outbox.queuedBytes`). */
  get queuedBytes(): number {
    return this.#outbox.queuedBytes;
  }

  /** Milliseconds since anything was received, per the injected clock. */
  idleFor(now: number): number {
    return now - this.#lastSeen;
  }

  /** Send a heartbeat ping. */
  ping(): void {
    this.#send({ type: "ping", id: ++this.#pingId });
  }

  /**
   * End the session from outside (heartbeat timeout, server shutdown).
   *
   * @param code Why.
   * @param message Text for the user.
   */
  terminate(code: ByeCode, message: string): void {
    this.#onClosed?.(new SessionClosed(code, message));
  }

  #send(frame: ServerFrame): void {
    this.#outbox.push(encodeFrame(frame));
  }

  #abort(reason: SessionClosed): void {
    this.#onClosed?.(reason);
  }

  /**
   * Run the session to its end. Never rejects.
   *
   * @returns When the connection is finished with.
   */
  run(): Promise<void> {
    this.#ended ??= this.#run();
    return this.#ended;
  }

  async #run(): Promise<void> {
    const { limits } = this.#options;
    const closed = new Promise<SessionClosed>((resolve) => {
      this.#onClosed = (reason) => {
        this.#onClosed = undefined;
        resolve(reason);
      };
    });
    const { clock } = this.#options;
    // Until login, anyone may be on the other end: reads are paced by a
    // byte budget, frames are small and flat, pings are rate-limited.
    const preLogin = { ...PRE_LOGIN_DEFAULTS, ...limits.preLogin };
    let loggedIn = false;
    const budget = new ReadBudget(clock, {
      burstBytes: preLogin.readBurstBytes,
      bytesPerSecond: preLogin.readBytesPerSecond,
      onPause: () => this.#counters.preLoginReadPauses.inc(),
    });
    const pings = new TokenBucket(clock, {
      burst: preLogin.pingBurst,
      perSecond: preLogin.pingsPerSecond,
    });
    // A bad frame leaves the socket open for the error frame and goodbye;
    // #finish closes the connection.
    const lines = new LineReader(budget.throttle(this.#conn.source), {
      maxFrameBytes: Math.min(preLogin.maxFrameBytes, limits.maxFrameBytes),
    });
    this.#options.onOpen?.(this);
    let presence: ReturnType<SessionHub["enter"]> | undefined;
    const loginTimer = clock.setTimeout(
      () =>
        this.#abort(
          new SessionClosed("timeout", "Login did not finish in time"),
        ),
      limits.loginTimeoutMs,
    );
    const work = (async () => {
      // Heartbeats are answered here, in every state after the client's
      // hello, so the rest of the session only sees frames that mean
      // something to it. Before hello a ping or pong is like any other
      // frame: not a hello, so fatal (PROTOCOL.md section 3).
      let greeted = false;
      const turns = this.#options.turns;
      const next = async (): Promise<ClientFrame | undefined> => {
        for (;;) {
          // A burst already buffered would be handled in one turn, holding
          // every write of the server until its end: past the turn's budget,
          // the next frame waits for the next turn.
          for (let turn = turns?.spend(); turn !== undefined; turn = turns?.spend()) await turn;
          const line = await lines.next();
          if (line === undefined) return undefined;
          this.#lastSeen = this.#options.clock.now();
          if (!loggedIn && nestsDeeperThan(line, PRE_LOGIN_MAX_DEPTH)) {
            throw new PreLoginError(
              "too_deep",
              `Frame is nested deeper than ${PRE_LOGIN_MAX_DEPTH} levels`,
            );
          }
          const frame = parseClientFrame(line, this.#version);
          if (!greeted) return frame;
          if (frame.type === "ping") {
            if (!loggedIn && !pings.take()) {
              throw new PreLoginError("rate_limited", "Too many pings before login");
            }
            // One pong waits at most: a newer one replaces it, so a peer
            // that pings and never reads cannot pile them up.
            this.#outbox.pushLatest("pong", encodeFrame({ type: "pong", id: frame.id }));
          } else if (frame.type !== "pong") return frame;
        }
      };
      this.#send({
        type: "hello",
        version: HELLO_VERSION,
        server: this.#options.serverName,
        versions: [...PROTOCOL_VERSIONS],
      });
      const hello = await next();
      if (hello === undefined) throw CONNECTION_LOST();
      if (hello.type !== "hello") {
        throw new ProtocolError("unexpected", "Expected a hello frame first");
      }
      this.#version = negotiateVersion(hello.version);
      if (hello.resume !== undefined) this.#resume = hello.resume;
      greeted = true;
      // Checked again with nothing awaited before `enter`: an account change
      // seen after this check finds the member in the hub and follows it.
      const checked = await this.#login(next);
      this.#stillOpen(); // the login timer or a shutdown may have ended it meanwhile
      if (this.#wantToken && this.#options.tokens && checked.id !== undefined) {
        // Only for a login that would be let in: a banned user gets no token.
        this.#admitted(checked);
        this.#token = await this.#issueToken(checked.id);
        this.#stillOpen();
      }
      const user = this.#admitted(checked);
      this.#welcome(user);
      loggedIn = true;
      budget.end();
      this.#conn.loggedIn?.();
      lines.maxFrameBytes = limits.maxFrameBytes;
      clock.clearTimeout(loginTimer);
      this.#user = user.name;
      try {
        presence = this.#options.hub.enter(this.#member(user));
        if (this.#onClosed === undefined) { // closed while entering: nobody else will leave
          presence.leave("disconnected");
          presence = undefined;
          throw CONNECTION_LOST();
        }
      } catch (error) {
        if (error instanceof BannedError) { // banned between login and entering
          throw new SessionClosed("banned", this.#bannedMessage(user.name));
        }
        if (error instanceof NameTakenError) {
          throw new SessionClosed("denied", "That name is reserved");
        }
        throw error;
      }
      for (;;) {
        const frame = await next();
        if (frame === undefined) throw CONNECTION_LOST();
        if (frame.type === "logout") {
          if (this.#token !== undefined) await this.#options.tokens?.revoke(this.#token);
          audit.info("Logout {user} from {address}", { user: user.name, address: this.address });
          throw new SessionClosed("end", "Logged out");
        }
        if (this.#version === 1) {
          if (frame.type !== "say") {
            throw new ProtocolError(
              "unexpected",
              `Frame ${frame.type} is not expected after login`,
            );
          }
          this.#counters.messagesIn.inc();
          presence.input(frame.text);
          continue;
        }
        const request = requestOf(frame);
        if (request === undefined) {
          throw new ProtocolError("unexpected", `Frame ${frame.type} is not expected after login`);
        }
        if (frame.type === "say" || frame.type === "dm") this.#counters.messagesIn.inc();
        const outcome = presence.request(request);
        if (outcome.ok && outcome.pending !== undefined) {
          void outcome.pending.then((settled) => {
            if (this.#onClosed !== undefined) this.#answer(request, settled);
          });
        } else if (this.#onClosed !== undefined) this.#answer(request, outcome); // not once closing
      }
    })();
    let reason: SessionClosed;
    try {
      reason = await Promise.race([work, closed]) as SessionClosed;
    } catch (error) {
      reason = this.#reasonFor(error);
    }
    work.catch(() => undefined); // settled by the close below
    clock.clearTimeout(loginTimer);
    presence?.leave(leaveText(reason));
    await this.#finish(reason);
    void lines.cancel(); // the connection is closed already; do not wait on it
    this.#options.onClose?.(this);
  }

  /** A version 2 request's end: `ack` or `error` with its id, else the refusal as a notice. */
  #answer(request: ChatRequest, outcome: Outcome): void {
    const ref = request.ref;
    if (ref !== undefined) {
      if (outcome.ok) {
        this.#send({
          type: "ack",
          id: ref,
          ...(outcome.messageId === undefined ? {} : { message_id: outcome.messageId }),
        });
      } else {
        this.#send({
          type: "error",
          id: ref,
          code: outcome.code,
          message: outcome.message,
          ...(outcome.retryAfterMs === undefined ? {} : { retry_after_ms: outcome.retryAfterMs }),
        });
      }
      return;
    }
    if (outcome.ok || (outcome.code === "rate_limited" && !outcome.first)) return;
    this.#send({
      type: "notice",
      level: outcome.code === "rate_limited" ? "warn" : "error",
      text: outcome.message,
      ts: this.#options.clock.now(),
    });
  }

  #reasonFor(error: unknown): SessionClosed {
    if (error instanceof SessionClosed) return error;
    if (error instanceof PeerError) {
      log.info("Protocol error from {address}: {code}", {
        address: this.address,
        code: error.code,
      });
      this.#send({ type: "error", code: error.code, message: error.message });
      return new SessionClosed("protocol_error", error.message);
    }
    return CONNECTION_LOST();
  }

  async #finish(reason: SessionClosed): Promise<void> {
    if (reason.lost || reason.code === "overflow") {
      // The peer is gone or not reading: do not wait on it.
      this.#conn.close();
      return;
    }
    await this.#outbox.close(
      encodeFrame({ type: "bye", code: reason.code, message: reason.message }),
    );
    this.#conn.close();
  }

  async #login(
    next: () => Promise<ClientFrame | undefined>,
  ): Promise<LoggedInUser> {
    const { auth } = this.#options;
    const ip = this.address;
    const certName = this.#conn.peer.certificateName;
    let certUser: string | undefined;
    if (certName !== undefined) {
      const result = await auth.loginWithCertificate(certName);
      if (result.ok) {
        if (!this.#options.requirePassword) {
          this.#counters.loginsOk.inc();
          audit.info("Login {user} from {address} by certificate", {
            user: result.user.name,
            address: ip,
          });
          return result.user;
        }
        certUser = result.user.name;
      }
    }
    let tokenTries = 0;
    for (let left = LOGIN_ATTEMPTS; left > 0; left--) {
      this.#send({ type: "auth", attempts_left: left });
      const frame = await next();
      if (frame === undefined) throw CONNECTION_LOST();
      if (frame.type !== "login") {
        throw new ProtocolError("unexpected", "Expected a login frame");
      }
      if ("token" in frame) {
        // A bearer secret, not a guess at the password: it costs none of the
        // attempts and feeds no lockout, but only so many per connection.
        if (++tokenTries > LOGIN_ATTEMPTS) {
          throw new SessionClosed("denied", "Access denied: too many session tokens");
        }
        // With a client certificate that names a user, only that user's token.
        const user = certUser !== undefined && frame.username !== certUser
          ? undefined
          : await this.#loginWithToken(frame.username, frame.token);
        if (user) return user;
        this.#send({
          type: "auth_failed",
          reason: "token_invalid",
          attempts_left: left,
          message: "Your session has ended, log in again",
        });
        left++; // the loop's step takes none of the attempts
        continue;
      }
      this.#wantToken = frame.want_token === true;
      const result = certUser !== undefined && frame.username !== certUser
        ? { ok: false as const, reason: "invalid" as const }
        : await auth.login({
          username: frame.username,
          password: frame.password,
          ip,
        });
      if (result.ok) {
        this.#counters.loginsOk.inc();
        audit.info("Login {user} from {address}", {
          user: result.user.name,
          address: ip,
        });
        return result.user;
      }
      if (result.reason === "busy") {
        // Not a failed guess: the server could not check it now.
        this.#counters.loginsBusy.inc();
        audit.warn("Login for {user} from {address} not checked: {reason}", {
          user: escapeUntrusted(frame.username),
          address: ip,
          reason: result.message,
        });
        throw new SessionClosed("busy", result.message);
      }
      this.#counters.loginsFailed.inc();
      audit.warn("Failed login for {user} from {address}: {reason}", {
        user: escapeUntrusted(frame.username),
        address: ip,
        reason: result.reason,
      });
      if (result.reason === "locked") {
        const message = lockedMessage(result.retryAfterMs, result.scope);
        this.#send({
          type: "auth_failed",
          reason: "locked",
          attempts_left: 0,
          retry_after_ms: result.retryAfterMs,
          message,
        });
        throw new SessionClosed("locked", message);
      }
      this.#send({
        type: "auth_failed",
        reason: "invalid",
        attempts_left: left - 1,
        message: left - 1 > 0
          ? `Wrong username or password, ${left - 1} attempt${left - 1 === 1 ? "" : "s"} left`
          : "Wrong username or password",
      });
    }
    throw new SessionClosed(
      "denied",
      "Access denied: too many failed attempts",
    );
  }

  /** The account a session token is bound to, when it is valid and the
   * name given is that account's. */
  async #loginWithToken(username: string, token: string): Promise<LoggedInUser | undefined> {
    // The account first: its refresh revokes the tokens of a changed account.
    const result = await this.#options.auth.loginWithCertificate(username);
    const account = await this.#options.tokens?.check(token);
    if (account === undefined || !result.ok || result.user.id !== account) return undefined;
    this.#token = token;
    this.#counters.loginsOk.inc();
    audit.info("Login {user} from {address} by session token", {
      user: result.user.name,
      address: this.address,
    });
    return result.user;
  }

  /** Throws when the session was closed (login timeout, shutdown) while a
   * login was being checked, so a late login never enters the hub. */
  #stillOpen(): void {
    if (this.#onClosed === undefined) throw CONNECTION_LOST();
  }

  /** A new token for `account`, or undefined when the store cannot keep it
   * (full disk, no permission): the login goes on without one. */
  async #issueToken(account: string): Promise<string | undefined> {
    try {
      return await this.#options.tokens?.issue(account);
    } catch (error) {
      log.error("Cannot issue a session token for {user}: {error}", {
        user: this.#user ?? account,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /**
   * Take the account as it is now (a change since the login's check ends
   * the login as it would end the session) and refuse a banned user.
   */
  #admitted(checked: LoggedInUser): LoggedInUser {
    const user = this.#options.auth.current(checked);
    if (user === undefined) {
      audit.warn("Refused {user} from {address}: the account changed during the login", {
        user: checked.name,
        address: this.address,
      });
      throw new SessionClosed("denied", ACCOUNT_CHANGED_MESSAGE);
    }
    if (this.#options.hub.isBanned(user.name)) {
      audit.warn("Refused banned user {user} from {address}", {
        user: user.name,
        address: this.address,
      });
      throw new SessionClosed("banned", this.#bannedMessage(user.name));
    }
    return user;
  }

  /** Tell the user it is in (with its new token, when one was asked for and issued). */
  #welcome(user: LoggedInUser): void {
    const limits = this.#options.hub.limits;
    const token = this.#wantToken && this.#token !== undefined ? { token: this.#token } : {};
    if (this.#version === 1) {
      this.#send({ type: "welcome", user: user.name, role: user.role, ...token });
    } else {
      this.#send({
        type: "welcome",
        user: user.name,
        role: user.role,
        version: this.#version,
        ...(limits === undefined ? {} : {
          limits: {
            message_chars: limits.messageChars,
            message_lines: limits.messageLines,
            rate: { burst: limits.rate.burst, per_second: limits.rate.perSecond },
            history_limit: limits.historyLimit,
            max_sessions: limits.maxSessions,
            retention_days: limits.retentionDays,
          },
        }),
        ...token,
      });
    }
  }

  /** `You are banned from this server (by boss on 2026-12-01 10:58 UTC: spam)`. */
  #bannedMessage(name: string): string {
    const ban = this.#options.hub.banOf?.(name);
    return ban === undefined ? BANNED_MESSAGE : `${BANNED_MESSAGE} (banned ${describeBan(ban)})`;
  }

  #member({ name, role, id }: LoggedInUser): Member {
    return {
      name,
      role,
      ...(id === undefined ? {} : { account: id }),
      view: this.#version >= 2 ? "all" : "room",
      ...(this.#resume === undefined ? {} : { resume: this.#resume }),
      deliver: (event: ChatEvent) => {
        this.#counters.messagesOut.inc();
        if (event.kind === "join" || event.kind === "leave" || event.kind === "presence") {
          // Nobody waits on these: a busy connection sends them with its next write.
          this.#outbox.pushDeferred(encodeEvent(event));
          return;
        }
        this.#outbox.push(
          event.kind === "room"
            // Within the soft queue bound, so entering never overflows it;
            // a version 2 login replays up to 50 rooms, each gets 1/64 of it.
            ? encodeRoomEvent(event, roomBudget(this.#version, this.#options.limits.outboxBytes))
            : encodeEvent(event),
        );
      },
      close: (reason: CloseReason) => {
        this.#abort(new SessionClosed(reason.code, reason.message));
      },
    };
  }
}

/** What a locked-out login is told: which lock, and for how long. An
 * address lock reads the same whatever name was tried. */
export function lockedMessage(retryAfterMs: number, scope?: "account" | "ip"): string {
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  const wait = `try again in ${minutes} minute${minutes === 1 ? "" : "s"}`;
  switch (scope) {
    case "ip":
      return `Too many failed logins from your address: every account is locked from it, ${wait}`;
    case "account":
      return `Too many failed logins for this name from your address: it is locked from here, ${wait}`;
    default:
      return `Too many failed logins: locked, ${wait}`;
  }
}

/** Bytes one `room` frame may take: all of the outbox bound in v1, 1/64 (at least 4 KiB) in v2. */
function roomBudget(version: 1 | 2, outboxBytes: number): number {
  return version === 1 ? outboxBytes : Math.max(4096, Math.floor(outboxBytes / 64));
}

/** The hub request a version 2 frame asks for; `undefined` for frames that are none. */
function requestOf(frame: ClientFrame): ChatRequest | undefined {
  const ref = "id" in frame && frame.id !== undefined && frame.type !== "ping" &&
      frame.type !== "pong"
    ? { ref: frame.id }
    : {};
  switch (frame.type) {
    case "say":
      return {
        kind: "say",
        text: frame.text,
        ...(frame.room === undefined ? {} : { room: frame.room }),
        ...ref,
      };
    case "join":
    case "part":
      return { kind: frame.type, room: frame.room, ...ref };
    case "dm":
      return { kind: "dm", to: frame.to, text: frame.text, ...ref };
    case "topic":
      return { kind: "topic", room: frame.room, text: frame.text, ...ref };
    case "away":
      return { kind: "away", ...(frame.text === undefined ? {} : { text: frame.text }), ...ref };
    case "history":
      return {
        kind: "history",
        ...(frame.room === undefined ? {} : { room: frame.room }),
        ...(frame.with === undefined ? {} : { with: frame.with }),
        ...(frame.before === undefined ? {} : { before: frame.before }),
        ...(frame.limit === undefined ? {} : { limit: frame.limit }),
        ...ref,
      };
    case "read":
      return {
        kind: "read",
        ...(frame.room === undefined ? {} : { room: frame.room }),
        ...(frame.with === undefined ? {} : { with: frame.with }),
        lastRead: frame.last_read,
        ...ref,
      };
    default:
      return undefined;
  }
}

function leaveText(reason: SessionClosed): string {
  if (reason.lost) return "disconnected";
  switch (reason.code) {
    case "end":
      return "quit";
    case "timeout":
      return "timed out";
    case "overflow":
      return "too slow to receive";
    default:
      return reason.code;
  }
}
