/**
 * What a connection that has not logged in may make the server do: read
 * bytes at a bounded rate (a byte budget on the server's clock; when it is
 * spent, reading pauses and TCP pushes back), send frames up to a small cap,
 * nest them only a few levels, and ping at a bounded rate. Anyone on the
 * network can open a connection, so all of this holds until login.
 *
 * @module
 */
import type { Clock } from "../util/clock.ts";
import type { ByteSource } from "../wire/byte_channel.ts";
import { PeerError } from "../wire/peer_error.ts";

/** Bytes a connection may send before login before its reads are paced. */
export const DEFAULT_PRE_LOGIN_READ_BURST_BYTES = 32 * 1024;

/** Bytes per second a connection is read at before login, once past its burst. */
export const DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND = 4 * 1024;

/**
 * Largest frame before login. A `login` frame with the longest name and
 * password, every unit JSON-escaped as `\uXXXX`, is under 14 KiB.
 */
export const DEFAULT_PRE_LOGIN_MAX_FRAME_BYTES = 16 * 1024;

/** Pings a connection may send at once before login. */
export const DEFAULT_PRE_LOGIN_PING_BURST = 10;

/** Pings per second a connection may send before login, once past its burst. */
export const DEFAULT_PRE_LOGIN_PINGS_PER_SECOND = 1;

/**
 * Deepest nesting of a frame before login (the frame's object is level 1);
 * every frame a client sends then is flat.
 */
export const PRE_LOGIN_MAX_DEPTH = 16;

/** Why a connection that has not logged in was refused. */
export type PreLoginErrorCode = "rate_limited" | "too_deep";

/** A peer that has not logged in went past what it may make the server do. */
export class PreLoginError extends PeerError<PreLoginErrorCode> {
  /**
   * @param code What was passed.
   * @param message Human-readable text, safe to send to the peer.
   */
  constructor(code: PreLoginErrorCode, message: string) {
    super(code, message);
    this.name = "PreLoginError";
  }
}

/** Options for {@linkcode ReadBudget}. */
export interface ReadBudgetOptions {
  /** Bytes that may be read at once. @default {DEFAULT_PRE_LOGIN_READ_BURST_BYTES} */
  burstBytes?: number;
  /** Bytes per second once past the burst. @default {DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND} */
  bytesPerSecond?: number;
  /** Called each time reading pauses because the budget is spent. */
  onPause?: () => void;
}

/**
 * A byte budget for reading one connection: a token bucket, on an injected
 * clock, that may go into debt by one read. Reads through
 * {@linkcode ReadBudget.throttle} wait, on the clock's timers, until the
 * debt is paid back; {@linkcode ReadBudget.end} lifts the budget.
 *
 * @example A 4-byte burst at 1,000 bytes per second
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ReadBudget } from "./read_budget.ts";
 * import { systemClock } from "../util/clock.ts";
 *
 * const clock = { ...systemClock, now: () => 0 }; // time stands still
 * const budget = new ReadBudget(clock, { burstBytes: 4, bytesPerSecond: 1000 });
 * const chunks = [new Uint8Array(10), new Uint8Array(1)];
 * const source = budget.throttle({
 *   read: () => Promise.resolve(chunks.shift()),
 *   cancel: () => Promise.resolve(),
 * });
 * equal((await source.read())?.length, 10); // within the burst: at once
 * equal(budget.waitMs(), 6); // 6 bytes of debt at 1 byte per ms
 * budget.end();
 * equal((await source.read())?.length, 1); // no budget after end()
 * ```
 */
export class ReadBudget {
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #perSecond: number;
  readonly #onPause: (() => void) | undefined;
  #tokens: number;
  #last: number;
  #ended = false;
  /** Ends a pause early (end, cancel). */
  #wake: (() => void) | undefined;

  /**
   * @param clock Time and the timers a pause waits on.
   * @param options Burst, rate, pause callback.
   * @throws {RangeError} When the burst or rate is not positive.
   */
  constructor(clock: Clock, options: ReadBudgetOptions = {}) {
    const burst = options.burstBytes ?? DEFAULT_PRE_LOGIN_READ_BURST_BYTES;
    const perSecond = options.bytesPerSecond ?? DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND;
    if (!(burst > 0) || !(perSecond > 0)) {
      throw new RangeError(`Cannot budget reads: burst ${burst}, rate ${perSecond}`);
    }
    this.#clock = clock;
    this.#burst = burst;
    this.#perSecond = perSecond;
    this.#onPause = options.onPause;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  /**
   * How long until the next read may start.
   *
   * @returns Milliseconds; 0 when it may start now or the budget has ended.
   */
  waitMs(): number {
    if (this.#ended) return 0;
    this.#refill();
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens * 1000 / this.#perSecond);
  }

  /**
   * Read `source` within the budget: each read first waits out any debt,
   * and what it returns is charged.
   *
   * @param source The connection's bytes.
   * @returns The same bytes, paced; `cancel()` also ends a pause and the budget.
   *   After {@linkcode end}, `read()` returns the source's own promise.
   */
  throttle(source: ByteSource): ByteSource {
    const paced = async () => {
      await this.#paid();
      const chunk = await source.read();
      if (chunk !== undefined && !this.#ended) this.#tokens -= chunk.length;
      return chunk;
    };
    return {
      // Once the budget has ended, a read is the source's own: no async
      // frame and promise of ours held per pending read of an idle session.
      read: () => this.#ended ? source.read() : paced(),
      cancel: () => {
        this.end(); // a paused read goes on to the cancelled source, which ends it
        return source.cancel();
      },
    };
  }

  /** Lift the budget (e.g. after login): reads go through at once. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async #paid(): Promise<void> {
    for (let ms = this.waitMs(); ms > 0; ms = this.waitMs()) {
      this.#onPause?.();
      const woken = Promise.withResolvers<void>();
      this.#wake = woken.resolve;
      const timer = this.#clock.setTimeout(woken.resolve, ms);
      await woken.promise;
      this.#clock.clearTimeout(timer);
      this.#wake = undefined;
      if (this.#ended) return;
    }
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last); // a clock stepping back mints nothing
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perSecond / 1000);
  }
}
