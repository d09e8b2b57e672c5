/**
 * The group a source address is counted under by per-address limits
 * (lockouts, connection and handshake caps, log summaries). One IPv6 host
 * usually controls a whole /64, so IPv6 addresses always count per /64
 * prefix; IPv4 addresses count on their own by default, or per network
 * when a shorter prefix is asked for (`ipv4Prefix: 24` for fair sharing
 * between networks). IPv4-mapped IPv6 counts as the IPv4 address.
 *
 * @module
 */

const MAX_KEY_LENGTH = 64;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/** Options for {@linkcode addressGroup}. */
export interface AddressGroupOptions {
  /**
   * Leading bits of an IPv4 address that name its group, 0 to 32; 32 keeps
   * the address itself. @default 32
   */
  ipv4Prefix?: number;
}

/**
 * The group key for `ip`.
 *
 * @param ip An IPv4 or IPv6 address, possibly bracketed or with a zone.
 * @param options How wide an IPv4 group is.
 * @returns `a.b.c.d` (or `a.b.c.0/24` with a prefix), `xxxx:xxxx:xxxx:xxxx::/64`,
 * or the input (trimmed and bounded) when it is not an address.
 * @throws {RangeError} When `ipv4Prefix` is not an integer from 0 to 32.
 *
 * @example Usage
 * ```ts
 * import { addressGroup } from "./address_group.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(addressGroup("2001:db8:1:2::7"), "2001:db8:1:2::/64");
 * assert.equal(addressGroup("192.0.2.7"), "192.0.2.7");
 * assert.equal(addressGroup("192.0.2.7", { ipv4Prefix: 24 }), "192.0.2.0/24");
 * ```
 */
export function addressGroup(ip: string, options: AddressGroupOptions = {}): string {
  const prefix = options.ipv4Prefix ?? 32;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`Cannot group addresses: ipv4Prefix is ${prefix}`);
  }
  const address = ip.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  if (!address.includes(":")) {
    return IPV4.test(address) ? ipv4Group(address, prefix) : address.slice(0, MAX_KEY_LENGTH);
  }
  const groups = expandIpv6(address);
  if (!groups) return address.slice(0, MAX_KEY_LENGTH);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return ipv4Group([hi >> 8, hi & 255, lo >> 8, lo & 255].join("."), prefix);
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** `a.b.c.d` itself at prefix 32, else its network as `w.x.y.z/prefix`. */
function ipv4Group(address: string, prefix: number): string {
  if (prefix === 32) return address;
  const octets = address.split(".").map(Number);
  if (octets.some((n) => n > 255)) return address;
  const value = octets.reduce((acc, n) => acc * 256 + n, 0);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(value / size) * size;
  const parts = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${parts.join(".")}/${prefix}`;
}

/** The eight 16-bit groups of an IPv6 address, or `undefined`. */
function expandIpv6(address: string): number[] | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parts = halves.map((half) => half === "" ? [] : half.split(":"));
  const groups = parts.map((half) => half.flatMap(toGroups));
  if (groups.some((half) => half.some(Number.isNaN))) return undefined;
  const [head = [], tail = []] = groups;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function toGroups(part: string): number[] {
  if (HEXTET.test(part)) return [parseInt(part, 16)];
  if (IPV4.test(part)) {
    const [a = 0, b = 0, c = 0, d = 0] = part.split(".").map(Number);
    if ([a, b, c, d].some((n) => n > 255)) return [NaN];
    return [(a << 8) | b, (c << 8) | d];
  }
  return [NaN];
}
