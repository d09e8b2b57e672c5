/**
 * `deno task user list`: every account with its role, lock state, last
 * login and sessions online. The last two come from `DATA/activity.json`
 * (see lib/server/activity.ts), which a running server keeps fresh; when it
 * is stale or missing the table says so instead of guessing.
 *
 * @module
 */
import type { Lockout } from "../lib/auth/lockout.ts";
import { type ActivitySnapshot, isLive } from "../lib/server/activity.ts";
import { lockStateOf, table } from "./_user_locks.ts";

/** What {@linkcode listAccounts} shows. */
export interface ListInput {
  /** Accounts and roles, in the file's order. */
  readonly users: readonly { readonly name: string; readonly role: string }[];
  /** The lockout file. */
  readonly lockout: Lockout;
  /** The server's activity file, if there is one. */
  readonly activity: ActivitySnapshot | undefined;
  /** The current time. */
  readonly now: number;
}

/**
 * The table, then a line on the server's state and the address locks.
 *
 * @param input Accounts, lockouts, activity and the time.
 * @returns The lines to print.
 */
export function listAccounts({ users, lockout, activity, now }: ListInput): string[] {
  const live = activity !== undefined && isLive(activity, now);
  const locks = lockout.locks();
  const rows = users.map(({ name, role }) => {
    const last = activity?.lastLogin[name];
    return [
      name,
      role,
      lockStateOf(locks, name),
      last === undefined ? "never" : formatTime(last),
      live ? String(activity.online[name] ?? 0) : "?",
    ];
  });
  const lines = table(["NAME", "ROLE", "LOCK", "LAST LOGIN", "ONLINE"], rows);
  if (activity === undefined) {
    lines.push("(server not running on this data directory: sessions online unknown)");
  } else if (!live) {
    lines.push(
      `(server not running: sessions online unknown; activity last written ${
        formatTime(activity.updatedAt)
      })`,
    );
  }
  const addresses = locks.filter((lock) => lock.kind === "ip").length;
  if (addresses > 0) {
    lines.push(
      `${addresses} address lock(s) keep every account out from those addresses: deno task user locks`,
    );
  }
  return lines;
}

/** `2026-12-01 10:58 UTC`. */
function formatTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
