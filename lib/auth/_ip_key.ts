/**
 * The key a source address is counted under for lockouts. One IPv6 host
 * usually controls a whole /64, so IPv6 addresses count per /64 prefix;
 * IPv4-mapped IPv6 counts as the IPv4 address.
 *
 * @module
 */

const MAX_KEY_LENGTH = 64;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/**
 * The lockout key for `ip`.
 *
 * @param ip An IPv4 or IPv6 address, possibly bracketed or with a zone.
 * @returns `a.b.c.d`, `xxxx:xxxx:xxxx:xxxx::/64`, or the input (trimmed
 * and bounded) when it is not an address.
 */
export function ipKey(ip: string): string {
  const address = ip.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")
    .replace(/%.*$/, "");
  if (!address.includes(":")) return address.slice(0, MAX_KEY_LENGTH);
  const groups = expandIpv6(address);
  if (!groups) return address.slice(0, MAX_KEY_LENGTH);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
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
