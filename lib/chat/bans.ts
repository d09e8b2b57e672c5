/**
 * What a ban records and how it reads: who banned the name, when and why.
 * The history store keeps the records ({@linkcode BanRecord}); the hub and
 * the session tell banned users with {@linkcode describeBan}.
 *
 * @module
 */

/** Longest ban reason kept, in characters (code points); longer ones are cut. */
export const MAX_BAN_REASON_LENGTH = 200;
/** Bans listed by `/bans` at most (the newest). */
export const MAX_LISTED_BANS = 50;

/** Who banned and why, as given to `HistoryStore.ban`. */
export interface BanDetails {
  /** Who banned. */
  readonly by: string;
  /** Why; `""` for no reason. */
  readonly reason: string;
}

/** One ban as stored. Bans made before reasons were kept have no details. */
export interface BanRecord {
  /** The banned name, as typed when it was banned. */
  readonly name: string;
  /** When (ms since the epoch). */
  readonly ts: number;
  /** Who banned, when known. */
  readonly by?: string;
  /** Why, when given. */
  readonly reason?: string;
}

/**
 * A ban as one clause: `by boss on 2026-12-01 10:58 UTC: spamming`.
 *
 * @param record The ban.
 * @returns The text, without a leading capital.
 *
 * @example
 * ```ts
 * import { describeBan } from "./bans.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(describeBan({ name: "eve", ts: 0, by: "boss", reason: "spam" }), "by boss on 1970-01-01 00:00 UTC: spam");
 * equal(describeBan({ name: "eve", ts: 0 }), "on 1970-01-01 00:00 UTC");
 * ```
 */
export function describeBan(record: BanRecord): string {
  const iso = new Date(record.ts).toISOString();
  const when = `on ${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  return `${record.by ? `by ${record.by} ` : ""}${when}${
    record.reason ? `: ${record.reason}` : ""
  }`;
}

/**
 * Cut a reason to {@linkcode MAX_BAN_REASON_LENGTH} code points.
 *
 * @param reason As typed.
 * @returns At most the limit, trimmed.
 */
export function boundReason(reason: string): string {
  return [...reason.trim()].slice(0, MAX_BAN_REASON_LENGTH).join("");
}
