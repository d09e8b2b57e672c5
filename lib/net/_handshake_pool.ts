/**
 * The connections still in their TLS handshake, shared fairly. Each address
 * may hold at most `maxPerAddress` (an IPv6 /64 counts as one address), and
 * all together at most `max`. When every slot is taken, a newcomer from a
 * network (IPv4 /24, IPv6 /64) holding fewer slots than the heaviest one
 * gets in by evicting that network's oldest handshake; a newcomer from a
 * heaviest network is refused. So a few networks can fill the pool, but not
 * keep anyone from another network out of it.
 *
 * @module
 */
import { addressGroup } from "../util/address_group.ts";
import type { Clock } from "../util/clock.ts";

/** IPv4 networks share pool slots per this prefix (IPv6 always per /64). */
export const FAIR_SHARE_IPV4_PREFIX = 24;

/** Options for {@linkcode HandshakePool}. */
export interface HandshakePoolOptions {
  /** Handshakes pending at once, from anywhere. */
  max: number;
  /** Handshakes pending at once from one address (IPv6: one /64). */
  maxPerAddress: number;
  /** A handshake pending longer ends with `timeout`. */
  timeoutMs: number;
  /** Runs the handshake timers. */
  clock: Clock;
}

/** Why a pending handshake was ended by the pool. */
export type HandshakeEnd = "timeout" | "evicted";

/** A slot taken; give it back with `release` when the handshake ended. */
export interface HandshakeSlot {
  readonly admitted: true;
  /** Stop the timer and free the slot; later calls do nothing. */
  release(): void;
}

/** Why no slot was given: the address's cap, or a full pool. */
export interface HandshakeRefusal {
  readonly admitted: false;
  readonly reason: "address" | "full";
}

interface Entry {
  readonly seq: number;
  readonly address: string;
  readonly network: string;
  readonly timer: number;
  readonly onEnd: (why: HandshakeEnd) => void;
}

/**
 * Counts pending handshakes per address, per network and in all, times each
 * one, and evicts fairly when full.
 *
 * @example Usage
 * ```ts
 * import { HandshakePool } from "./_handshake_pool.ts";
 * import { systemClock } from "../util/clock.ts";
 * import assert from "node:assert/strict";
 *
 * const pool = new HandshakePool({ max: 1, maxPerAddress: 1, timeoutMs: 10_000, clock: systemClock });
 * const ended: string[] = [];
 * const first = pool.begin("192.0.2.1", (why) => ended.push(why));
 * const second = pool.begin("198.51.100.1", () => {});
 * assert.deepEqual(ended, ["evicted"], "the heavier network made room");
 * if (first.admitted) first.release();
 * if (second.admitted) second.release();
 * assert.equal(pool.size, 0);
 * ```
 */
export class HandshakePool {
  readonly #options: HandshakePoolOptions;
  /** Per network, its entries oldest first (Map keeps insertion order). */
  readonly #networks = new Map<string, Map<number, Entry>>();
  readonly #perAddress = new Map<string, number>();
  #size = 0;
  #seq = 0;

  /** @param options Caps, timeout and clock. */
  constructor(options: HandshakePoolOptions) {
    this.#options = options;
  }

  /** Handshakes pending now. */
  get size(): number {
    return this.#size;
  }

  /** Handshakes pending now from `ip`'s address (its /64 for IPv6). */
  pendingFrom(ip: string): number {
    return this.#perAddress.get(addressGroup(ip)) ?? 0;
  }

  /**
   * Take a slot for a handshake from `ip` and start its timer, evicting the
   * oldest handshake of the heaviest network when the pool is full and
   * `ip`'s network holds fewer.
   *
   * @param ip Where the connection comes from.
   * @param onEnd Runs (once) when the pool ends the handshake itself: it
   * timed out, or was evicted for a newcomer. Its slot is free already.
   * @returns The slot, or why not.
   */
  begin(ip: string, onEnd: (why: HandshakeEnd) => void): HandshakeSlot | HandshakeRefusal {
    const { max, maxPerAddress, timeoutMs, clock } = this.#options;
    const address = addressGroup(ip);
    const network = addressGroup(ip, { ipv4Prefix: FAIR_SHARE_IPV4_PREFIX });
    if ((this.#perAddress.get(address) ?? 0) >= maxPerAddress) {
      return { admitted: false, reason: "address" };
    }
    if (this.#size >= max) {
      const victim = this.#oldestOfHeaviest();
      const mine = this.#networks.get(network)?.size ?? 0;
      if (victim === undefined || this.#networks.get(victim.network)!.size <= mine) {
        return { admitted: false, reason: "full" };
      }
      this.#remove(victim);
      victim.onEnd("evicted");
    }
    const seq = this.#seq++;
    const timer = clock.setTimeout(() => {
      if (this.#remove(entry)) onEnd("timeout");
    }, timeoutMs);
    const entry: Entry = { seq, address, network, timer, onEnd };
    let entries = this.#networks.get(network);
    if (entries === undefined) this.#networks.set(network, entries = new Map());
    entries.set(seq, entry);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    this.#size++;
    return { admitted: true, release: () => void this.#remove(entry) };
  }

  /**
   * The oldest entry of the network holding the most slots (the oldest
   * such entry when several networks hold as many). O(networks).
   */
  #oldestOfHeaviest(): Entry | undefined {
    let best: Entry | undefined;
    let bestSize = 0;
    for (const entries of this.#networks.values()) {
      const oldest = entries.values().next().value;
      if (oldest === undefined) continue;
      if (entries.size > bestSize || (entries.size === bestSize && oldest.seq < best!.seq)) {
        best = oldest;
        bestSize = entries.size;
      }
    }
    return best;
  }

  /** Drop `entry`'s accounting and timer; false when it was gone already. */
  #remove(entry: Entry): boolean {
    const entries = this.#networks.get(entry.network);
    if (!entries?.delete(entry.seq)) return false;
    if (entries.size === 0) this.#networks.delete(entry.network);
    this.#options.clock.clearTimeout(entry.timer);
    const left = (this.#perAddress.get(entry.address) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(entry.address);
    else this.#perAddress.set(entry.address, left);
    this.#size--;
    return true;
  }
}
