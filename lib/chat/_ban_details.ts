/**
 * The optional fields of a ban record, shared by the history stores.
 *
 * @module
 */
import type { BanDetails } from "./bans.ts";

/**
 * The optional fields of a ban record, left out when empty.
 *
 * @param details What the ban said about who and why.
 * @returns `by` and `reason`, each only when not empty.
 */
export function banDetails(details: BanDetails | undefined): { by?: string; reason?: string } {
  return {
    ...(details?.by ? { by: details.by } : {}),
    ...(details?.reason ? { reason: details.reason } : {}),
  };
}
