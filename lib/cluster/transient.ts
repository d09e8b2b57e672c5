/**
 * Failures of a JetStream request that pass by themselves while a NATS node
 * is lost: no server took it (a stream or bucket between leaders, the
 * client reports it as "JetStream not enabled"), or no answer came in time
 * (no metadata leader yet, a consumer placed on the dead node, the link
 * being re-established). Anything else (no such stream, a lost
 * compare-and-set, a bad request) is not transient.
 *
 * @module
 */
import { type Clock, delay, systemClock } from "../util/clock.ts";

/** Pause between tries of {@linkcode retryTransient}. */
export const TRANSIENT_RETRY_MS = 250;

/**
 * How long {@linkcode retryTransient} keeps trying: longer than a leader
 * election on a busy machine (a metadata leader took 6 s to be elected
 * after its node was killed, on a loaded 2-core test machine).
 */
export const TRANSIENT_DEADLINE_MS = 30_000;

/**
 * Whether `error` is a transient JetStream failure (see the module doc).
 *
 * @param error What a request threw.
 * @returns True for "no responders" and time-outs.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(error.name)) return true;
  const { status, isNoResponders } = error as { status?: unknown; isNoResponders?: unknown };
  // "JetStream system temporarily unavailable" (no metadata leader) comes as a 503 API error.
  if (status === 503) return true;
  return typeof isNoResponders === "function" && isNoResponders.call(error) === true;
}

/** The client's names for "no server took it" and "no answer in time". */
const TRANSIENT_NAMES = new Set(["JetStreamNotEnabled", "TimeoutError", "NoResponders"]);

/** Options for {@linkcode retryTransient}. */
export interface RetryTransientOptions {
  /** Time for the pauses and the deadline. @default systemClock */
  clock?: Clock;
  /** @default {TRANSIENT_DEADLINE_MS} */
  deadlineMs?: number;
  /** Stops the tries; the last error is thrown. */
  signal?: AbortSignal;
}

/**
 * Run `request` until it succeeds, trying again after a transient failure
 * for up to the deadline. Only for requests that are safe to repeat (reads,
 * creating an ordered consumer, a publish with a message id).
 *
 * @param request The request.
 * @param options Clock, deadline, signal.
 * @returns What `request` resolved to.
 * @throws {Error} A failure that is not transient, or the last one past the deadline.
 */
export async function retryTransient<T>(
  request: () => Promise<T>,
  options: RetryTransientOptions = {},
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.deadlineMs ?? TRANSIENT_DEADLINE_MS);
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if (!isTransient(error) || clock.now() >= deadline || options.signal?.aborted) throw error;
      await delay(clock, TRANSIENT_RETRY_MS, options.signal).catch(() => undefined);
    }
  }
}
