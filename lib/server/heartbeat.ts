/**
 * One heartbeat timer for every session, not one per session: a logged-in
 * peer idle for `pingIntervalMs` is pinged, one idle for `deadAfterMs` is
 * closed with `bye timeout`. Sessions still logging in are left to the
 * login timeout.
 *
 * @module
 */
import type { Clock } from "../util/clock.ts";
import type { ByeCode } from "../wire/protocol.ts";

/** What the heartbeat needs of a session. */
export interface HeartbeatSession {
  /** Set once logged in; sessions without one are skipped. */
  readonly user: string | undefined;
  /** Milliseconds since anything was received, as of `now`. */
  idleFor(now: number): number;
  /** Send a ping. */
  ping(): void;
  /** Close with a goodbye. */
  terminate(code: ByeCode, message: string): void;
}

/** Options for {@linkcode startHeartbeat}. */
export interface HeartbeatOptions {
  /** Whose time and timers to use. */
  clock: Clock;
  /** Idle time after which a peer is pinged. */
  pingIntervalMs: number;
  /** Idle time after which a peer is closed; longer than `pingIntervalMs`. */
  deadAfterMs: number;
}

/**
 * Check `sessions` every half ping interval (at least every 5 ms) on the
 * clock's timers.
 *
 * @param sessions The live set; read afresh on every check.
 * @param options Clock and timings.
 * @returns Stops the heartbeat.
 *
 * @example Usage
 * ```ts
 * import { startHeartbeat } from "./heartbeat.ts";
 * import { systemClock } from "../util/clock.ts";
 *
 * using _heartbeat = startHeartbeat(new Set(), {
 *   clock: systemClock,
 *   pingIntervalMs: 20_000,
 *   deadAfterMs: 60_000,
 * });
 * ```
 */
export function startHeartbeat(
  sessions: Iterable<HeartbeatSession>,
  options: HeartbeatOptions,
): Disposable {
  const { clock, pingIntervalMs, deadAfterMs } = options;
  const id = clock.setInterval(() => {
    const now = clock.now();
    for (const session of sessions) {
      if (session.user === undefined) continue; // the login timeout covers these
      const idle = session.idleFor(now);
      if (idle >= deadAfterMs) {
        session.terminate("timeout", "No answer to heartbeat");
      } else if (idle >= pingIntervalMs) {
        session.ping();
      }
    }
  }, Math.max(5, Math.floor(pingIntervalMs / 2)));
  return {
    [Symbol.dispose]() {
      clock.clearInterval(id);
    },
  };
}
