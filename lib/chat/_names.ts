/**
 * How the chat compares user names: case-insensitively, ASCII only, the same
 * rule as SQLite's `NOCASE` so the hub and the history store agree (and the
 * lockout file, which folds with the same function).
 *
 * @module
 */
import { foldUserName } from "../auth/user_name.ts";

/**
 * The key a user name is compared by.
 *
 * @param name A user name as typed.
 * @returns The name with ASCII letters lowercased.
 */
export function foldName(name: string): string {
  return foldUserName(name);
}
