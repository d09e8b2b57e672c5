/**
 * Connection caps: at most `maxConnections` sessions in all and at most
 * `maxConnectionsPerIp` from one address, an IPv6 /64 counting as one
 * address (one host usually has a whole /64; IPv4 addresses count each on
 * their own, as many users can share a /24). A connection over a cap is
 * told `bye busy` and closed before it gets a session.
 *
 * @module
 */
import { encodeFrame } from "../wire/protocol.ts";
import type { Connection } from "../net/connection.ts";
import { addressGroup } from "../util/address_group.ts";

/** The caps of an {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Sessions open at once, from anywhere. */
  maxConnections: number;
  /** Sessions open at once from one address (IPv6: one /64). */
  maxConnectionsPerIp: number;
}

/** A place taken by an admitted connection; give it back once with `release`. */
export interface AdmissionTicket {
  readonly admitted: true;
  /** Free the place; later calls do nothing. */
  release(): void;
}

/** Why a connection was not admitted, and what to tell it. */
export interface AdmissionRefusal {
  readonly admitted: false;
  /** `full`: the server cap; `address`: the per-address cap. */
  readonly reason: "full" | "address";
  /** Text for the `bye busy` frame. */
  readonly message: string;
}

/**
 * Counts open sessions in all and per address, and admits a new one only
 * under both caps (the total is checked first).
 *
 * @example Usage
 * ```ts
 * import { Admission } from "./admission.ts";
 * import assert from "node:assert/strict";
 *
 * const admission = new Admission({ maxConnections: 10, maxConnectionsPerIp: 1 });
 * const first = admission.admit("10.0.0.1");
 * assert.equal(first.admitted, true);
 * assert.equal(admission.admit("10.0.0.1").admitted, false);
 * if (first.admitted) first.release();
 * assert.equal(admission.admit("10.0.0.1").admitted, true);
 * ```
 */
export class Admission {
  readonly #maxConnections: number;
  readonly #maxPerIp: number;
  readonly #perIp = new Map<string, number>();
  #open = 0;

  /** @param options The caps. */
  constructor(options: AdmissionOptions) {
    this.#maxConnections = options.maxConnections;
    this.#maxPerIp = options.maxConnectionsPerIp;
  }

  /** Connections admitted and not yet released. */
  get open(): number {
    return this.#open;
  }

  /**
   * Take a place for a connection from `ip`, if both caps allow.
   *
   * @param ip The peer's IP address.
   * @returns A ticket to release when the session ends, or why not.
   */
  admit(ip: string): AdmissionTicket | AdmissionRefusal {
    if (this.#open >= this.#maxConnections) {
      return { admitted: false, reason: "full", message: "Server is full, try again later" };
    }
    const address = addressGroup(ip);
    const count = this.#perIp.get(address) ?? 0;
    if (count >= this.#maxPerIp) {
      return {
        admitted: false,
        reason: "address",
        message: "Too many connections from your address",
      };
    }
    this.#perIp.set(address, count + 1);
    this.#open++;
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const left = (this.#perIp.get(address) ?? 1) - 1;
        if (left === 0) this.#perIp.delete(address);
        else this.#perIp.set(address, left);
      },
    };
  }

  /** Connections admitted from `ip`'s address (its /64 for IPv6) and not yet released. */
  openFrom(ip: string): number {
    return this.#perIp.get(addressGroup(ip)) ?? 0;
  }
}

/**
 * Tell a refused peer `bye busy` (if it still listens) and close. The
 * refusal is counted and logged by the caller (`refusals.ts`).
 *
 * @param conn The refused connection.
 * @param refusal Why.
 * @returns When the connection is closed; never rejects.
 */
export async function refuseBusy(conn: Connection, refusal: AdmissionRefusal): Promise<void> {
  await conn.sink.write(encodeFrame({ type: "bye", code: "busy", message: refusal.message }))
    ?.catch(() => undefined);
  conn.close();
}
