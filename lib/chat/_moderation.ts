/**
 * The rules of kick, ban and unban: who may be the target of whom, and
 * what a sanctioned session is told.
 *
 * @module
 */
import { validateUserName } from "../auth/user_name.ts";
import { roleAtLeast } from "./commands.ts";
import type { ModerationEvent } from "./hub_options.ts";
import type { CloseReason, Role } from "./message.ts";

/** Who acts, or whom it is done to. */
export interface Moderated {
  readonly name: string;
  readonly role: Role;
}

/**
 * Refuse a moderation target that is not a valid user name; the refusal
 * is reported (the audit log escapes the target) and never echoed.
 *
 * @param action What was asked.
 * @param user The target, as typed.
 * @param by Who asked.
 * @param report Told of the refusal before it is thrown.
 * @throws {Error} When `user` is not a user name.
 */
export function checkTargetName(
  action: ModerationEvent["action"],
  user: string,
  by: string,
  report: (event: ModerationEvent) => void,
): void {
  const problem = validateUserName(user);
  if (problem === undefined) return;
  report({ action, by, target: user, refused: true });
  throw new Error(`Cannot ${action}: not a user name (${problem})`);
}

/**
 * Whether `actor` may act on `role`: the operator on anyone, others only
 * on lower roles.
 *
 * @param actor The role of who acts.
 * @param role The role of whom it is done to.
 * @returns `true` when allowed.
 */
export function mayModerate(actor: Role, role: Role): boolean {
  return actor === "operator" || !roleAtLeast(role, actor);
}

/**
 * Refuse acting on oneself or on an equal or higher role (online targets).
 *
 * @param actor Who acts.
 * @param target The online account it is done to.
 * @param self Whether the target is the actor's own account.
 * @param action What is done, for the message.
 * @throws {Error} When not allowed.
 */
export function checkOnlineTarget(
  actor: Moderated,
  target: Moderated,
  self: boolean,
  action: string,
): void {
  if (self) throw new Error(`Cannot ${action} yourself`);
  if (!mayModerate(actor.role, target.role)) {
    throw new Error(`Cannot ${action} ${target.name}: not allowed`);
  }
}

/** What {@linkcode checkOfflineBan} needs to know. */
export interface OfflineBanOptions {
  /** The role of who bans. */
  readonly actorRole: Role;
  /** Whether unknown names are no accounts (the hub was given `roleOf`). */
  readonly knowsAccounts: boolean;
  /** `/ban --pre`: ban a name before it exists. */
  readonly pre: boolean;
}

/**
 * Refuse banning an offline name that is no account (unless `pre`), or an
 * account of an equal or higher role.
 *
 * @param user The name, as typed.
 * @param role The account's role, `undefined` when unknown.
 * @param options Who bans and how.
 * @throws {Error} When not allowed.
 */
export function checkOfflineBan(
  user: string,
  role: Role | undefined,
  options: OfflineBanOptions,
): void {
  if (role === undefined && options.knowsAccounts && !options.pre) {
    throw new Error(
      `Cannot ban ${user}: no such user (to ban the name before it exists: /ban --pre ${user} [reason])`,
    );
  }
  if (role !== undefined && !mayModerate(options.actorRole, role)) {
    throw new Error(`Cannot ban ${user}: not allowed`);
  }
}

/**
 * How a kicked or banned session is closed.
 *
 * @param code `kicked` or `banned`.
 * @param by Who did it.
 * @param reason Why, `""` when not said.
 * @returns The close reason told to the session and the reason others see it leave with.
 */
export function sanctionClose(
  code: "kicked" | "banned",
  by: string,
  reason: string,
): { close: CloseReason; leaveReason: string } {
  const verb = code === "kicked" ? "Kicked" : "Banned";
  return {
    close: { code, message: reason ? `${verb} by ${by}: ${reason}` : `${verb} by ${by}` },
    leaveReason: reason ? `${code}: ${reason}` : code,
  };
}
