/**
 * A server-side WebSocket as a {@linkcode Connection}, so a browser goes
 * through the same session code as a TLS client: each text message is one
 * frame, handed on as that frame's line (the text plus `\n`); each line the
 * session writes goes out as one text message (without its `\n`).
 *
 * @module
 */
import type { ByteSink, ByteSource } from "../wire/byte_channel.ts";
import { PeerError } from "../wire/peer_error.ts";
import { systemClock, type Timers } from "../util/clock.ts";
import type { Connection, PeerInfo } from "./connection.ts";

/** Why a WebSocket message was refused. Sent to the peer as `error.code`. */
export type WebSocketMessageErrorCode =
  | "binary_message"
  | "newline_in_message"
  | "too_fast"
  | "frame_too_large";

/** The close code for a message over the size cap (RFC 6455: "Message Too Big"). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** A WebSocket message that cannot be one frame. */
export class WebSocketMessageError extends PeerError<WebSocketMessageErrorCode> {
  /**
   * @param code What was wrong.
   * @param message Human-readable text, safe to send to the peer.
   */
  constructor(code: WebSocketMessageErrorCode, message: string) {
    super(code, message);
    this.name = "WebSocketMessageError";
  }
}

/** Bounds that hold until {@linkcode Connection.loggedIn} is called. */
export interface WebSocketPreLoginLimits {
  /** Largest message, in UTF-8 bytes (the pre-login frame cap). */
  maxMessageBytes: number;
  /** Received bytes not yet read before the peer is refused as too fast (the
   * pre-login read burst: the session reads them on its read budget). */
  maxUnreadBytes: number;
}

/** Options for {@linkcode webSocketConnection}. */
export interface WebSocketConnectionOptions {
  /**
   * Largest message, in UTF-8 bytes (the frame cap); a longer one closes the
   * socket at once with 1009, before the text is copied. @default {1048576}
   */
  maxMessageBytes?: number;
  /** Received bytes not yet read before the peer is refused as too fast. @default {1048576} */
  maxUnreadBytes?: number;
  /** Tighter bounds until login. @default none: the bounds above from the start */
  preLogin?: WebSocketPreLoginLimits;
  /** Bytes the socket may hold unsent before a write waits. @default {262144} */
  maxBufferedBytes?: number;
  /** How often a waiting write looks at `bufferedAmount` again (ms). @default {10} */
  drainPollMs?: number;
  /** Runs the drain polls. @default systemClock */
  timers?: Timers;
}

const encoder = new TextEncoder();
const NEWLINE = 0x0a;

/**
 * Adapt an upgraded (or upgrading) WebSocket to a {@linkcode Connection}.
 * A binary message, or a text message holding a newline, makes the next
 * read reject with a {@linkcode WebSocketMessageError}, which the session
 * answers like any peer error (`error`, then `bye protocol_error`).
 *
 * @param socket The server side of the WebSocket; owned from now on.
 * @param peer Who is on the other end.
 * @param options Bounds on unread and unsent bytes.
 * @returns The connection.
 */
export function webSocketConnection(
  socket: WebSocket,
  peer: PeerInfo,
  options: WebSocketConnectionOptions = {},
): Connection {
  const limits = {
    maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    maxUnreadBytes: options.maxUnreadBytes ?? 1024 * 1024,
  };
  let bounds: WebSocketPreLoginLimits = options.preLogin ?? limits;
  const maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
  const pollMs = options.drainPollMs ?? 10;
  const timers = options.timers ?? systemClock;
  const opened = socket.readyState === WebSocket.OPEN
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("close", () => resolve());
    });
  const chunks: Uint8Array[] = [];
  let unread = 0;
  let failure: WebSocketMessageError | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  socket.addEventListener("message", (event: MessageEvent) => {
    if (ended || failure) return;
    const data: unknown = event.data;
    // A UTF-16 unit is at least one UTF-8 byte: a longer string is too big
    // before it is copied or encoded (Deno has already taken up to 64 MiB).
    const size = typeof data === "string"
      ? data.length
      : data instanceof ArrayBuffer || ArrayBuffer.isView(data)
      ? data.byteLength
      : data instanceof Blob
      ? data.size
      : 0;
    if (size > bounds.maxMessageBytes) {
      tooBig(bounds.maxMessageBytes);
    } else if (typeof data !== "string") {
      failure = new WebSocketMessageError("binary_message", "Binary messages are not frames");
    } else if (data.includes("\n")) {
      failure = new WebSocketMessageError(
        "newline_in_message",
        "A message is one frame and holds no newline",
      );
    } else {
      const bytes = encoder.encode(data + "\n");
      unread += bytes.length;
      if (bytes.length - 1 > bounds.maxMessageBytes) tooBig(bounds.maxMessageBytes);
      else if (unread > bounds.maxUnreadBytes) {
        failure = new WebSocketMessageError("too_fast", "Messages arrive faster than read");
      } else chunks.push(bytes);
    }
    notify();
  });
  const end = () => {
    ended = true;
    notify();
  };
  // Refused at once: nothing more of this peer is read, and the socket goes.
  function tooBig(max: number) {
    failure = new WebSocketMessageError(
      "frame_too_large",
      `Message is larger than ${max} bytes`,
    );
    chunks.length = 0;
    unread = 0;
    try {
      socket.close(CLOSE_MESSAGE_TOO_BIG, "Message too big");
    } catch {
      // Already closing: nothing left to do.
    }
  }
  socket.addEventListener("close", end);
  socket.addEventListener("error", end);
  const close = () => {
    end();
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      try {
        socket.close(1000);
      } catch {
        // Closing a socket that is going anyway: nothing left to do.
      }
    }
  };
  const source: ByteSource = {
    async read() {
      for (;;) {
        const chunk = chunks.shift();
        if (chunk !== undefined) {
          unread -= chunk.length;
          return chunk;
        }
        if (failure) throw failure;
        if (ended) return undefined;
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
    cancel() {
      close();
      return Promise.resolve();
    },
  };
  let pending = new Uint8Array(0);
  const decoder = new TextDecoder();
  const drained = () =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (socket.readyState !== WebSocket.OPEN) reject(new Error("Cannot write: socket closed"));
        else if (socket.bufferedAmount <= maxBuffered) resolve();
        else timers.setTimeout(check, pollMs);
      };
      check();
    });
  const sendLines = (bytes: Uint8Array) => {
    const all = pending.length === 0 ? bytes : concat(pending, bytes);
    let start = 0;
    for (let i = all.indexOf(NEWLINE); i !== -1; i = all.indexOf(NEWLINE, start)) {
      socket.send(decoder.decode(all.subarray(start, i)));
      start = i + 1;
    }
    pending = all.slice(start);
  };
  const sink: ByteSink = {
    write(bytes) {
      if (socket.readyState !== WebSocket.OPEN) {
        return opened.then(() => {
          if (socket.readyState !== WebSocket.OPEN) throw new Error("Cannot write: socket closed");
          sendLines(bytes);
        });
      }
      sendLines(bytes);
      return socket.bufferedAmount > maxBuffered ? drained() : undefined;
    },
    async close() {
      await opened;
      if (socket.readyState !== WebSocket.OPEN) return;
      await drained().catch(() => undefined); // the peer may be gone
      close();
    },
  };
  const loggedIn = () => {
    bounds = limits;
  };
  return { peer, source, sink, close, loggedIn };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
