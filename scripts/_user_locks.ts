/**
 * The admin CLI's lockout commands: `unlock NAME`, `unlock --address IP`
 * and `locks`, and each account's lock state for `list`. They read and
 * write `DATA/lockout.json` through {@linkcode Lockout}, under the same
 * lock file as the server.
 *
 * @module
 */
import { addressGroup } from "../lib/util/address_group.ts";
import type { LockEntry, Lockout } from "../lib/auth/lockout.ts";
import { foldUserName } from "../lib/auth/user_name.ts";

/** How the CLI spells a command that lifts an address lock. */
export function unlockAddressCommand(address: string): string {
  return `deno task user unlock --address ${address}`;
}

/**
 * Time left, rounded up: `45 s`, `5 min`, `2 h 5 min`.
 *
 * @param ms Milliseconds left.
 * @returns The text.
 */
export function formatLeft(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.ceil(ms / 1000))} s`;
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return `${Math.floor(minutes / 60)} h${rest ? ` ${rest} min` : ""}`;
}

/**
 * Whether `text` is an IPv4 or IPv6 address (an address group key comes
 * out of it).
 *
 * @param text What the admin typed.
 * @returns `true` for an address.
 */
export function isAddress(text: string): boolean {
  const group = addressGroup(text);
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(group) || group.endsWith("::/64");
}

/**
 * Lift every lock that names `name` and say which; name the address locks
 * still in force, which also keep `name` out from their addresses.
 *
 * @param lockout The lockout file.
 * @param name An existing account.
 * @returns The lines to print.
 */
export async function unlockAccount(lockout: Lockout, name: string): Promise<string[]> {
  const { lockedFrom, records, slowdown } = await lockout.unlockAccount(name);
  const lines: string[] = [];
  for (const { address, retryAfterMs } of lockedFrom) {
    lines.push(`Unlocked "${name}" from ${address} (${formatLeft(retryAfterMs)} were left)`);
  }
  const others = records - lockedFrom.length;
  if (others > 0) {
    lines.push(`Cleared the failed logins of "${name}" from ${others} other address(es)`);
  }
  if (slowdown) lines.push(`Cleared the slow-down of "${name}"`);
  if (lines.length === 0) lines.push(`"${name}" had no lock and no failed logins`);
  const addresses = lockout.locks().filter((lock) => lock.kind === "ip");
  if (addresses.length > 0) {
    lines.push(
      `Still locked: every account, "${name}" too, from ${addresses.length} address(es):`,
      ...addresses.map((lock) =>
        `  ${lock.address} (${formatLeft(left(lock))} left): ${unlockAddressCommand(lock.address)}`
      ),
    );
  }
  return lines;
}

/**
 * Lift the lock of one address on every account.
 *
 * @param lockout The lockout file.
 * @param ip The address.
 * @returns The lines to print.
 */
export async function unlockAddress(lockout: Lockout, ip: string): Promise<string[]> {
  const address = addressGroup(ip);
  const left = await lockout.unlockAddress(ip);
  const lines = [
    left === undefined
      ? `${address} had no failed logins`
      : left > 0
      ? `Unlocked address ${address} (${formatLeft(left)} were left)`
      : `${address} was not locked; its failed logins are cleared`,
  ];
  const names = lockout.locks().flatMap((lock) =>
    lock.kind === "account" && lock.address === address ? [lock.account] : []
  );
  if (names.length > 0) {
    lines.push(
      `Still locked from ${address}: ${names.join(", ")} (deno task user unlock NAME)`,
    );
  }
  return lines;
}

/**
 * Every lock in force, as a table with time left.
 *
 * @param lockout The lockout file.
 * @returns The lines to print.
 */
export function listLocks(lockout: Lockout): string[] {
  const locks = lockout.locks();
  if (locks.length === 0) return ["No locks in force"];
  const rows = locks.map((lock): [string, string, string, string] => {
    switch (lock.kind) {
      case "ip":
        return [
          "address",
          "(every account)",
          lock.address,
          `${formatLeft(lock.retryAfterMs)} left`,
        ];
      case "account":
        return ["account", lock.account, lock.address, `${formatLeft(lock.retryAfterMs)} left`];
      case "slowdown":
        return [
          "slowed",
          lock.account,
          "(every address)",
          `checks ${formatLeft(lock.delayMs)} apart`,
        ];
    }
  });
  return table(["LOCK", "NAME", "FROM", "TIME"], rows);
}

/**
 * One account's lock state for `list`: `-`, `locked from 2 addresses (5 min)`,
 * `slowed (8 s)`.
 *
 * @param locks What {@linkcode Lockout.locks} listed.
 * @param name The account.
 * @returns The cell's text.
 */
export function lockStateOf(locks: readonly LockEntry[], name: string): string {
  // Lock entries name accounts folded, as the lockout file keeps them.
  const key = foldUserName(name);
  const own = locks.flatMap((lock) =>
    lock.kind === "account" && lock.account === key ? [lock] : []
  );
  const parts: string[] = [];
  if (own.length > 0) {
    const from = own.length === 1 ? own[0]!.address : `${own.length} addresses`;
    parts.push(`locked from ${from} (${formatLeft(Math.max(...own.map(left)))})`);
  }
  const slowed = locks.find((lock) => lock.kind === "slowdown" && lock.account === key);
  if (slowed?.kind === "slowdown") parts.push(`slowed (${formatLeft(slowed.delayMs)})`);
  return parts.length > 0 ? parts.join(", ") : "-";
}

/**
 * Left-aligned columns, two spaces apart.
 *
 * @param header The column names.
 * @param rows The cells.
 * @returns One line per row, the header first.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows].map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join("  ")
  );
}

function left(lock: LockEntry): number {
  return "retryAfterMs" in lock ? lock.retryAfterMs : 0;
}
