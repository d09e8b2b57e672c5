/**
 * One server the client may connect to, as `--host` names it: `HOST`,
 * `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT` (a bare IPv6 address such as `::1`
 * takes the default port). Parsing is pure; the wording of errors is the
 * user's (the config loader adds the setting and its source).
 *
 * @module
 */

/** A server's host name (or address) and port. */
export interface ServerAddress {
  /** Name or address, checked against the server's certificate (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
}

/** Most servers one `--host` list may name. */
export const MAX_SERVERS = 32;

/** Longest host name (RFC 1035: 253 characters). */
const MAX_HOST_CHARS = 253;

/** Letters, digits, dots, hyphens and underscores: a DNS name or an IPv4 address. */
const HOST_NAME = /^[A-Za-z0-9._-]+$/;

/** Hex digits, colons and dots (an IPv4 tail), and a `%zone`. */
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._-]+)?$/;

/** The port after `:`, or a reason it is not one. */
function portOf(text: string): number | string {
  if (text === "") return 'missing port after ":"';
  if (!/^\d{1,5}$/.test(text)) return `port ${JSON.stringify(text)} is not a number`;
  const port = Number(text);
  if (port < 1 || port > 65535) return `port ${port} is outside 1..65535`;
  return port;
}

/**
 * Parse one server address.
 *
 * @param text What was given, e.g. `chat.example.org`, `b:9002`, `[::1]:9001`.
 * @param defaultPort The port when `text` names none (`--port`).
 * @returns The address, or a reason it is not one (without the text itself).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseServerAddress } from "./server_address.ts";
 * deepEqual(parseServerAddress("b:9002", 9001), { hostname: "b", port: 9002 });
 * deepEqual(parseServerAddress("[::1]", 9001), { hostname: "::1", port: 9001 });
 * deepEqual(parseServerAddress("a:0", 9001), "port 0 is outside 1..65535");
 * ```
 */
export function parseServerAddress(text: string, defaultPort: number): ServerAddress | string {
  if (text.trim() === "") return "empty server name";
  let hostname: string;
  let port: number | string = defaultPort;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return `missing "]" after the IPv6 address`;
    hostname = text.slice(1, close);
    if (!IPV6.test(hostname)) return "not an IPv6 address inside [...]";
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return `expected ":PORT" after "]"`;
      port = portOf(rest.slice(1));
    }
  } else {
    const colons = text.split(":").length - 1;
    if (colons >= 2) {
      // A bare IPv6 address: the port can only be given inside brackets.
      if (!IPV6.test(text)) return "not a host name or address (IPv6 with a port: [ADDRESS]:PORT)";
      hostname = text;
    } else {
      const colon = text.indexOf(":");
      hostname = colon < 0 ? text : text.slice(0, colon);
      if (colon >= 0) port = portOf(text.slice(colon + 1));
      if (hostname === "") return 'missing host name before ":"';
      if (!HOST_NAME.test(hostname) || hostname.length > MAX_HOST_CHARS) {
        return "not a host name or address";
      }
    }
  }
  if (typeof port === "string") return port;
  return { hostname, port };
}

/**
 * What is wrong with one `--host` item, for the config loader's check: the
 * port is checked here only for its form (the default port comes later).
 *
 * @param text One item of the list.
 * @returns A reason, or undefined when it is a server address.
 */
export function serverAddressProblem(text: string): string | undefined {
  const parsed = parseServerAddress(text, 1);
  return typeof parsed === "string" ? `${JSON.stringify(text)}: ${parsed}` : undefined;
}

/**
 * How the client names a server to its user: `host:port`, `[v6]:port`.
 *
 * @param address The server.
 * @returns Its name.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatServerAddress } from "./server_address.ts";
 * equal(formatServerAddress({ hostname: "::1", port: 9001 }), "[::1]:9001");
 * ```
 */
export function formatServerAddress(address: ServerAddress): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}
