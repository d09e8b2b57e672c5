/**
 * `deno task user list`: every account with its role, lock state, last
 * login and sessions online. The last two come from `DATA/activity.json`
 * (see lib/server/activity.ts), which a running server keeps fresh; when it
 * is stale or missing the table says so instead of guessing. In a cluster,
 * ONLINE is the number of instances a user is logged in on, from the
 * presence bucket (entries older than 30 s do not count), and the last
 * login is not known (each instance keeps its own).
 *
 * @module
 */
import type { Lockout } from "../lib/auth/lockout.ts";
import { isLive } from "../lib/server/activity.ts";
import type { OnlineSource } from "./_user_places.ts";
import { lockStateOf, table } from "./_user_locks.ts";

/** What {@linkcode listAccounts} shows. */
export interface ListInput {
  /** Accounts, roles and ids, in the file's order. */
  readonly users: readonly { readonly name: string; readonly role: string; readonly id: string }[];
  /** The lockouts. */
  readonly lockout: Lockout;
  /** Who is online: the server's activity file (if any), or the cluster's presence. */
  readonly online: OnlineSource;
  /** The current time. */
  readonly now: number;
}

/**
 * The table, then a line on the server's state and the address locks.
 *
 * @param input Accounts, lockouts, activity and the time.
 * @returns The lines to print.
 */
export function listAccounts({ users, lockout, online, now }: ListInput): string[] {
  const activity = online.kind === "activity" ? online.activity : undefined;
  const live = activity !== undefined && isLive(activity, now);
  const locks = lockout.locks();
  const rows = users.map(({ name, role, id }) => {
    const last = activity?.lastLogin[name];
    return [
      name,
      role,
      lockStateOf(locks, name),
      online.kind === "cluster" ? "?" : last === undefined ? "never" : formatTime(last),
      online.kind === "cluster"
        ? String(online.instances.get(id) ?? 0)
        : live
        ? String(activity.online[name] ?? 0)
        : "?",
    ];
  });
  const lines = table(["NAME", "ROLE", "LOCK", "LAST LOGIN", "ONLINE"], rows);
  if (online.kind === "cluster") {
    lines.push(
      "(cluster: ONLINE counts the instances a user is logged in on, from banter_presence; last logins are kept by each instance, not in the cluster)",
    );
  } else if (activity === undefined) {
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
