/**
 * What makes a user name and a password acceptable.
 *
 * @module
 */

/** Longest user name, in characters. */
export const MAX_USER_NAME_LENGTH = 32;
/** Shortest password, in characters (code points). */
export const MIN_PASSWORD_LENGTH = 10;
/** Longest password, in characters (code points). */
export const MAX_PASSWORD_LENGTH = 1024;

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Check a user name: 1 to {@linkcode MAX_USER_NAME_LENGTH} characters from
 * `A-Z a-z 0-9 _ . -`, starting with a letter or digit.
 *
 * @param name The proposed name.
 * @returns Why the name is not acceptable, or `undefined` when it is.
 *
 * @example
 * ```ts
 * import { validateUserName } from "./user_name.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(validateUserName("alice.b-2"), undefined);
 * equal(typeof validateUserName(".alice"), "string");
 * ```
 */
export function validateUserName(name: string): string | undefined {
  if (name.length === 0) return "user name must not be empty";
  if (name.length > MAX_USER_NAME_LENGTH) {
    return `user name must be at most ${MAX_USER_NAME_LENGTH} characters`;
  }
  if (!USER_NAME.test(name)) {
    return "user name must use only letters, digits, '_', '.' and '-', " +
      "and start with a letter or digit";
  }
  return undefined;
}

/**
 * Check a password for `userName`: {@linkcode MIN_PASSWORD_LENGTH} to
 * {@linkcode MAX_PASSWORD_LENGTH} characters and not containing the user
 * name (ignoring case).
 *
 * @param password The proposed password.
 * @param userName Whose password it would be.
 * @returns Which rule the password breaks, or `undefined` when it is
 * acceptable. The password itself is never part of the message.
 *
 * @example
 * ```ts
 * import { validatePassword } from "./user_name.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(validatePassword("quiet lantern 42", "alice"), undefined);
 * equal(
 *   validatePassword("Alice-1234567", "alice"),
 *   "password must not contain the user name",
 * );
 * ```
 */
export function validatePassword(
  password: string,
  userName: string,
): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (length > MAX_PASSWORD_LENGTH) {
    return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  if (
    userName.length > 0 &&
    password.toLowerCase().includes(userName.toLowerCase())
  ) {
    return "password must not contain the user name";
  }
  return undefined;
}
