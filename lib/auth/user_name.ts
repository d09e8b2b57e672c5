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
 * The key a user name is compared by where case must not matter (the
 * chat's names, lockout records): ASCII letters lowercased, the same rule
 * as SQLite's `NOCASE`. Valid user names are ASCII, so this is all the
 * folding they need.
 *
 * @param name A user name as typed.
 * @returns The name with ASCII letters lowercased.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { foldUserName } from "./user_name.ts";
 *
 * equal(foldUserName("ALICE"), "alice");
 * ```
 */
export function foldUserName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * Names no account may take, nor one that looks like them: the server's own
 * speakers (the operator console, the joke bot, server notices). `admin` is
 * not among them: it is the account created at first start, which every
 * install has; like any account, look-alikes of it are refused.
 */
export const RESERVED_USER_NAMES: readonly string[] = ["operator", "JokeBot", "server"];

/** Letters and digits that pass for one another, after NFKC and lowercasing. */
const LOOKALIKE_CHARACTERS: Readonly<Record<string, string>> = {
  "0": "o",
  "1": "l",
  "i": "l",
  "|": "l",
  // Cyrillic
  "а": "a",
  "в": "b",
  "е": "e",
  "һ": "h",
  "н": "h",
  "і": "l",
  "ј": "j",
  "к": "k",
  "м": "m",
  "о": "o",
  "р": "p",
  "ԛ": "q",
  "ѕ": "s",
  "т": "t",
  "с": "c",
  "у": "y",
  "х": "x",
  "ԁ": "d",
  "ԝ": "w",
  // Greek
  "α": "a",
  "ε": "e",
  "ι": "l",
  "κ": "k",
  "ν": "v",
  "ο": "o",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "χ": "x",
};
/** Letter pairs that pass for one letter. */
const LOOKALIKE_PAIRS: ReadonlyArray<readonly [RegExp, string]> = [
  [/rn/g, "m"],
  [/vv/g, "w"],
  [/cl/g, "d"],
];

/**
 * What a user name looks like: NFKC, lowercased, look-alike characters
 * (`0`/`o`, `1`/`l`/`I`, Cyrillic and Greek letters) and pairs (`rn`/`m`,
 * `vv`/`w`, `cl`/`d`) folded together, trailing `.`, `-` and `_` dropped.
 * Two names with the same skeleton can be told apart only by looking hard:
 * a new account may not take the skeleton of an existing or reserved one.
 *
 * @param name A user name.
 * @returns Its skeleton, only for comparing.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { userNameSkeleton } from "./user_name.ts";
 *
 * equal(userNameSkeleton("aIice"), userNameSkeleton("alice"));
 * equal(userNameSkeleton("rnallory."), userNameSkeleton("mallory"));
 * ```
 */
export function userNameSkeleton(name: string): string {
  let folded = "";
  for (const c of name.normalize("NFKC").toLowerCase()) {
    folded += LOOKALIKE_CHARACTERS[c] ?? c;
  }
  for (const [pair, letter] of LOOKALIKE_PAIRS) folded = folded.replace(pair, letter);
  return folded.replace(/[._-]+$/, "");
}

const RESERVED_SKELETONS = new Set(RESERVED_USER_NAMES.map(userNameSkeleton));

/**
 * Whether `name` is, or looks like, one of {@linkcode RESERVED_USER_NAMES}.
 *
 * @param name A user name.
 * @returns `true` when no account may have it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isReservedUserName } from "./user_name.ts";
 *
 * equal(isReservedUserName("J0keBot"), true);
 * equal(isReservedUserName("admin"), false);
 * ```
 */
export function isReservedUserName(name: string): boolean {
  return RESERVED_SKELETONS.has(userNameSkeleton(name));
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
