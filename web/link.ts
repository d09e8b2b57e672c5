/**
 * The page's connection to the server: one WebSocket to `/ws` speaking the
 * chat protocol (one JSON frame per text message, parsed as untrusted with
 * the server's own parser), answering pings, and reconnecting with a capped
 * exponential backoff with jitter while the session may continue. Each
 * (re)connection says protocol version 2 and resumes from the newest message
 * the page holds per room, so the server sends only what was missed.
 *
 * @module
 */
import { type ClientFrame, parseServerFrame, type ServerFrame } from "../lib/wire/protocol.ts";

/** The protocol version the page speaks: 2 (many rooms, resume, read markers). */
const PAGE_PROTOCOL_VERSION = 2;

/** First reconnect delay (ms). */
export const BACKOFF_START_MS = 500;
/** Longest reconnect delay (ms). */
export const BACKOFF_MAX_MS = 15_000;

/** What the link tells the page. */
export interface LinkEvents {
  /** A frame other than hello and ping. */
  frame(frame: ServerFrame): void;
  /** Connected, lost, or waiting to reconnect (attempt, delay). */
  status(state: LinkStatus): void;
  /** Per room, the newest message id the page holds: sent as `hello.resume`. */
  resume(): Record<string, number>;
}

/** The link's state, as the page shows it. */
export type LinkStatus =
  | { state: "connecting" }
  | { state: "connected" }
  | { state: "waiting"; attempt: number; delayMs: number }
  | { state: "closed"; message: string };

/** One WebSocket at a time, reconnecting until {@linkcode Link.stop}. */
export class Link {
  readonly #url: string;
  readonly #events: LinkEvents;
  #socket: WebSocket | undefined;
  #attempt = 0;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param url The `wss://` address of `/ws`.
   * @param events Where frames and status go.
   */
  constructor(url: string, events: LinkEvents) {
    this.#url = url;
    this.#events = events;
  }

  /** Open the connection (again). */
  start(): void {
    this.#stopped = false;
    clearTimeout(this.#timer);
    this.#events.status({ state: "connecting" });
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let frame: ServerFrame;
      try {
        frame = parseServerFrame(event.data);
      } catch {
        return; // an unknown or broken frame from a newer server: ignored
      }
      if (frame.type === "hello") {
        const resume = this.#events.resume();
        this.send({
          type: "hello",
          version: PAGE_PROTOCOL_VERSION,
          client: "banter-web",
          ...(Object.keys(resume).length === 0 ? {} : { resume }),
        });
        this.#events.status({ state: "connected" });
      } else if (frame.type === "ping") this.send({ type: "pong", id: frame.id });
      else if (frame.type === "welcome") {
        this.#attempt = 0;
        this.#events.frame(frame);
      } else this.#events.frame(frame);
    });
    socket.addEventListener("close", () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#stopped) return;
      const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.#attempt) *
        (0.5 + Math.random() / 2);
      this.#attempt++;
      this.#events.status({ state: "waiting", attempt: this.#attempt, delayMs });
      this.#timer = setTimeout(() => this.start(), delayMs);
    });
  }

  /** Stop for good (logout, denied, banned): no reconnect. */
  stop(message: string): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close();
    this.#socket = undefined;
    this.#events.status({ state: "closed", message });
  }

  /** Reconnect now instead of waiting. */
  retryNow(): void {
    if (this.#socket === undefined) this.start();
  }

  /** Send a frame when connected; dropped otherwise. */
  send(frame: ClientFrame): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }
}
