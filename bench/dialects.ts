/**
 * How a load client speaks to each server: Banter's JSON lines, IRC, and
 * ncat's raw chat lines. Chat lines are recognised by a marker in their
 * payload (see {@linkcode payload}); every other line goes to the dialect,
 * which looks at a few bytes and decodes only what it must (login, ping).
 *
 * @module
 */

/** Which wire a target speaks. */
export type DialectName = "banter" | "irc" | "ncat";

/** A benchmark account. */
export interface BenchUser {
  name: string;
  password: string;
  /** Room to move to after login (lowercase a-z0-9_-); the default room when absent. */
  room?: string;
}

/** What a dialect can do to the client it drives. */
export interface DialectPeer {
  readonly user: BenchUser;
  /** Login (and joining the room) has finished. */
  readonly loggedIn: boolean;
  send(text: string): void;
  /** Login finished; the client is in the room. */
  ready(): void;
  /** The server refused or closed; the client stops. */
  fail(reason: string): void;
}

/** One server's wire. */
export interface Dialect {
  /** Whether a chat line comes back to its own sender. */
  readonly echoesToSender: boolean;
  /** What the client sends right after the TLS handshake. */
  opening(user: BenchUser): string;
  /**
   * Handle one line that is not a chat delivery.
   *
   * @param bytes Buffer holding the line.
   * @param start First byte of the line.
   * @param end Index of its `\n`.
   */
  control(bytes: Uint8Array, start: number, end: number, peer: DialectPeer): void;
  /** One chat line carrying `text`. */
  say(text: string): string;
  /** A harmless line that makes the server read from the client again. */
  readonly nudge?: string;
}

/** First byte of the marker that starts every payload: a backtick. */
export const MARKER = 0x60;
/** Second byte of the marker: `T`. */
export const MARKER_2 = 0x54;
const PAD = "x".repeat(64 * 1024);

/**
 * A chat payload of `bytes` ASCII characters that carries its send time:
 * "`T<ms since epoch, 3 decimals>`" then padding.
 *
 * @param sentAtMs Wall-clock send time in ms (`performance.timeOrigin + performance.now()`).
 * @param bytes Wanted length; never shorter than the stamp.
 * @returns The payload.
 */
export function payload(sentAtMs: number, bytes: number): string {
  const stamp = "`T" + sentAtMs.toFixed(3) + "`";
  return bytes > stamp.length ? stamp + PAD.slice(0, bytes - stamp.length) : stamp;
}

/**
 * Read the time stamp after a marker found at `at`.
 *
 * @param bytes The buffer.
 * @param at Index of the marker's first byte.
 * @returns The send time in ms, or NaN when no digits follow.
 */
export function readStamp(bytes: Uint8Array, at: number): number {
  let i = at + 2;
  let c = bytes[i]!;
  if (c < 48 || c > 57) return NaN;
  let value = 0;
  while (c >= 48 && c <= 57) {
    value = value * 10 + (c - 48);
    c = bytes[++i]!;
  }
  if (c === 46) {
    let fraction = 0;
    let scale = 1;
    c = bytes[++i]!;
    while (c >= 48 && c <= 57) {
      fraction = fraction * 10 + (c - 48);
      scale *= 10;
      c = bytes[++i]!;
    }
    value += fraction / scale;
  }
  return value;
}

const decoder = new TextDecoder();

function text(bytes: Uint8Array, start: number, end: number): string {
  if (end > start && bytes[end - 1] === 0x0d) end--;
  return decoder.decode(bytes.subarray(start, end));
}

function hasPrefix(bytes: Uint8Array, start: number, end: number, prefix: string): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[start + i] !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

const TYPE_PREFIX = '{"type":"';

/**
 * Banter: hello, auth, login, welcome, room (then `/join` when the user has
 * a room of its own); pings answered.
 */
export const banterDialect: Dialect = {
  echoesToSender: true,
  opening: () => "",
  control(bytes, start, end, peer) {
    if (peer.loggedIn && hasPrefix(bytes, start, end, TYPE_PREFIX)) {
      // After login only ping, bye and error matter: look at one byte.
      const c = bytes[start + TYPE_PREFIX.length];
      if (c !== 0x70 /* p */ && c !== 0x62 /* b */ && c !== 0x65 /* e */) return;
      if (hasPrefix(bytes, start, end, '{"type":"pong"')) return;
    }
    const frame = JSON.parse(text(bytes, start, end)) as Record<string, unknown>;
    switch (frame.type) {
      case "hello":
        peer.send(JSON.stringify({ type: "hello", version: 1, client: "banter-bench" }) + "\n");
        break;
      case "auth":
        peer.send(
          JSON.stringify({
            type: "login",
            username: peer.user.name,
            password: peer.user.password,
          }) + "\n",
        );
        break;
      case "room":
        if (peer.loggedIn) break;
        if (peer.user.room === undefined || frame.room === peer.user.room) peer.ready();
        else peer.send(JSON.stringify({ type: "say", text: `/join ${peer.user.room}` }) + "\n");
        break;
      case "ping":
        peer.send(JSON.stringify({ type: "pong", id: frame.id }) + "\n");
        break;
      case "auth_failed":
      case "bye":
      case "error":
        peer.fail(`${frame.type}: ${frame.message ?? frame.code ?? ""}`);
        break;
    }
  },
  say: (text) => JSON.stringify({ type: "say", text }) + "\n",
};

/** The IRC channel load clients join when they have no room of their own. */
export const IRC_CHANNEL = "#bench";

/** IRC (RFC 2812): NICK/USER, JOIN after 001, in once 366 arrives. */
export const ircDialect: Dialect = {
  echoesToSender: false,
  opening: (user) => `NICK ${user.name}\r\nUSER ${user.name} 0 * :banter bench\r\n`,
  control(bytes, start, end, peer) {
    if (hasPrefix(bytes, start, end, "PING")) {
      peer.send(`PONG${text(bytes, start + 4, end)}\r\n`);
      return;
    }
    if (hasPrefix(bytes, start, end, "ERROR")) {
      peer.fail(text(bytes, start, end));
      return;
    }
    if (peer.loggedIn) return;
    const parts = text(bytes, start, end).split(" ");
    switch (parts[1]) {
      case "001":
        peer.send(`JOIN ${peer.user.room === undefined ? IRC_CHANNEL : `#${peer.user.room}`}\r\n`);
        break;
      case "366":
        peer.ready();
        break;
      case "432":
      case "433":
      case "465":
      case "471":
      case "473":
      case "474":
      case "475":
        peer.fail(text(bytes, start, end));
        break;
    }
  },
  say: (text) => `PRIVMSG ${IRC_CHANNEL} :${text}\r\n`,
  nudge: "PING :nudge\r\n",
};

/** `ncat --chat`: in on its first line (its own "<announce>"). */
export const ncatDialect: Dialect = {
  echoesToSender: false,
  opening: () => "",
  control(_bytes, _start, _end, peer) {
    if (!peer.loggedIn) peer.ready();
  },
  say: (text) => `${text}\n`,
};

/** The dialect called `name`. */
export function dialect(name: DialectName): Dialect {
  switch (name) {
    case "banter":
      return banterDialect;
    case "irc":
      return ircDialect;
    case "ncat":
      return ncatDialect;
  }
}
