/**
 * The order a server stops in: timers, then no new connections, then the
 * chat says goodbye, then the sessions and the transport close (bounded),
 * then the parts that outlive the sessions.
 *
 * @module
 */
import type { ByeCode } from "../wire/protocol.ts";

/** How long the transport waits for sessions to finish their goodbyes. */
export const SHUTDOWN_DEADLINE_MS = 3000;

/** The parts of a running server that {@linkcode shutDown} stops. */
export interface ShutdownParts {
  /** Heartbeat, history pruner: stopped first. */
  timers: Iterable<Disposable>;
  /** The TLS listener and its connections. */
  transport: {
    stopAccepting(): void;
    close(timeoutMs?: number): Promise<void>;
  };
  /** The chat hub: tells every member. */
  hub: { shutdown(message: string): void };
  /** Open sessions: each gets `bye shutdown`. */
  sessions: Iterable<{ terminate(code: ByeCode, message: string): void }>;
  /** Lockout alert mails still being sent, when configured. */
  alerts?: { close(): Promise<void> } | undefined;
  /** The event-loop lag probe. */
  lag: Disposable;
  /** The ops HTTP endpoint, when on. */
  http?: { close(): Promise<void> } | undefined;
  /** The history store: closed last, once nothing can write to it. */
  history: { close(): void };
}

/**
 * Stop a server's parts in order: timers; stop accepting; hub shutdown with
 * `message`; terminate every session; close the transport within
 * {@linkcode SHUTDOWN_DEADLINE_MS}; alerts; lag probe; HTTP; history.
 *
 * @param parts What to stop.
 * @param message The goodbye text for users.
 * @returns How many sessions were told `bye shutdown`, once everything is stopped.
 */
export async function shutDown(parts: ShutdownParts, message: string): Promise<number> {
  for (const timer of parts.timers) timer[Symbol.dispose]();
  parts.transport.stopAccepting();
  parts.hub.shutdown(message);
  let closed = 0;
  for (const session of parts.sessions) {
    session.terminate("shutdown", message);
    closed++;
  }
  await parts.transport.close(SHUTDOWN_DEADLINE_MS);
  await parts.alerts?.close();
  parts.lag[Symbol.dispose]();
  await parts.http?.close();
  parts.history.close();
  return closed;
}
