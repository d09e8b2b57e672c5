/**
 * The password policy for new passwords (`user.ts add` and `passwd`): the
 * length and user-name rules of {@linkcode validatePassword}, and no
 * password that a guesser tries first: one character repeated, only
 * whitespace, a short pattern repeated, a run along the keyboard, the
 * alphabet or the digits, or a common password (the 49,233 of the
 * zxcvbn-ts common list, shipped as an npm package and never fetched),
 * ignoring case and l33t spelling, also with a few digits or symbols added.
 *
 * Messages name the rule broken and never quote the password.
 *
 * @module
 */
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, validatePassword } from "./user_name.ts";

/** Longest unit that may not make up a whole password by repetition
 * (`abab...`, `abcabc...`, `12341234...`). */
export const MAX_REPEATED_UNIT = 4;
/** Shortest run along a key row, the alphabet or the digits that counts
 * as part of a sequence (`qwe`, `cba`, `789`). */
export const MIN_SEQUENCE_RUN = 3;
/** Most digits, symbols and spaces around a common password that still
 * leave it common (`Password2024!` is `password` plus 5). */
export const MAX_COMMON_AFFIX = 6;

/** The rules, one line each, for showing before a password prompt. */
export const PASSWORD_RULES: readonly string[] = Object.freeze([
  `${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters, not containing the user name`,
  "not one character repeated, not only whitespace",
  `not a pattern of up to ${MAX_REPEATED_UNIT} characters repeated (abcabcabc)`,
  "not a sequence along the keyboard, the alphabet or the digits, either way (qwertyuiop, 0987654321)",
  `not a common password, ignoring case and l33t spelling, nor one with up to ${MAX_COMMON_AFFIX} digits or symbols added`,
]);

/** Runs along these (either way) are sequences: alphabet, digits, and the
 * rows, columns and zigzags of QWERTY, QWERTZ and AZERTY keyboards. */
const SEQUENCES: readonly string[] = [
  "abcdefghijklmnopqrstuvwxyz",
  "01234567890",
  "`1234567890-=",
  "qwertyuiop[]\\",
  "asdfghjkl;'",
  "zxcvbnm,./",
  "qwertzuiop",
  "yxcvbnm",
  "azertyuiop",
  "qsdfghjklm",
  "wxcvbn",
  "1qaz",
  "2wsx",
  "3edc",
  "4rfv",
  "5tgb",
  "6yhn",
  "7ujm",
  "8ik,",
  "9ol.",
  "0p;/",
  "1q2w3e4r5t6y7u8i9o0p",
  "q1w2e3r4t5y6u7i8o9p0",
];

/** Where each character occurs in each sequence. */
const POSITIONS: ReadonlyMap<string, readonly [string, number][]> = (() => {
  const positions = new Map<string, [string, number][]>();
  for (const sequence of SEQUENCES) {
    [...sequence].forEach((char, index) => {
      const list = positions.get(char) ?? [];
      list.push([sequence, index]);
      positions.set(char, list);
    });
  }
  return positions;
})();

const LEET: Readonly<Record<string, string>> = {
  "0": "o",
  "1": "i",
  "3": "e",
  "4": "a",
  "5": "s",
  "7": "t",
  "8": "b",
  "@": "a",
  "$": "s",
  "!": "i",
  "+": "t",
};

/** Options for {@linkcode passwordProblem}. */
export interface PasswordPolicyOptions {
  /** Whose password it would be. */
  userName: string;
  /** Common passwords, folded by {@linkcode foldCommon}; see
   * {@linkcode loadCommonPasswords}. @default {no blocklist} */
  common?: ReadonlySet<string>;
}

/**
 * Check a new password against every rule.
 *
 * @param password The proposed password.
 * @param options The user name and the blocklist.
 * @returns Which rule the password breaks, or `undefined` when it breaks
 * none. The password itself is never part of the message.
 *
 * @example
 * ```ts
 * import { passwordProblem } from "./password_policy.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(passwordProblem("quiet lantern 42", { userName: "alice" }), undefined);
 * equal(
 *   passwordProblem("qwertyuiop", { userName: "alice" }),
 *   "password must not be a sequence along the keyboard, the alphabet or the digits",
 * );
 * ```
 */
export function passwordProblem(
  password: string,
  options: PasswordPolicyOptions,
): string | undefined {
  const basic = validatePassword(password, options.userName);
  if (basic !== undefined) return basic;
  const lower = password.toLowerCase();
  if (/^\s+$/u.test(password)) return "password must not be only whitespace";
  if (new Set(lower).size === 1) return "password must not be one character repeated";
  if (isRepeatedUnit(lower)) {
    return `password must not be a pattern of up to ${MAX_REPEATED_UNIT} characters repeated`;
  }
  if (isSequence(lower.replace(/\s+/gu, ""))) {
    return "password must not be a sequence along the keyboard, the alphabet or the digits";
  }
  if (options.common !== undefined && isCommon(lower, options.common)) {
    return "password must not be a common password, or one with a few digits or symbols added";
  }
  return undefined;
}

/**
 * A password as the blocklist compares it: lower case, no whitespace, l33t
 * digits and symbols read as letters (`P@55 w0rd` is `password`).
 *
 * @param text A password or a list entry.
 * @returns The folded text.
 */
export function foldCommon(text: string): string {
  let folded = "";
  for (const char of text.toLowerCase().replace(/\s+/gu, "")) folded += LEET[char] ?? char;
  return folded;
}

let common: Promise<ReadonlySet<string>> | undefined;

/**
 * The common-password blocklist, folded: loaded once, on first use, from
 * the `@zxcvbn-ts/language-common` package (no network).
 *
 * @returns The folded list.
 */
export function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  common ??= import("@zxcvbn-ts/language-common").then(({ dictionary }) =>
    new Set(dictionary["passwords-common"].map(foldCommon))
  );
  return common;
}

/**
 * Check a new password against every rule, the blocklist included.
 *
 * @param password The proposed password.
 * @param userName Whose password it would be.
 * @returns Which rule it breaks, or `undefined`.
 */
export async function checkNewPassword(
  password: string,
  userName: string,
): Promise<string | undefined> {
  return passwordProblem(password, { userName, common: await loadCommonPasswords() });
}

function isRepeatedUnit(text: string): boolean {
  const chars = [...text];
  for (let unit = 2; unit <= MAX_REPEATED_UNIT; unit++) {
    if (chars.length % unit !== 0 || chars.length === unit) continue;
    if (chars.every((char, i) => char === chars[i % unit])) return true;
  }
  return false;
}

/** Whether `text` is made only of runs of at least MIN_SEQUENCE_RUN
 * characters, each along one sequence in one direction. */
function isSequence(text: string): boolean {
  const chars = [...text];
  const reachable = new Array<boolean>(chars.length + 1).fill(false);
  reachable[0] = true;
  for (let start = 0; start < chars.length; start++) {
    if (!reachable[start]) continue;
    for (const [sequence, index] of POSITIONS.get(chars[start] ?? "") ?? []) {
      for (const step of [1, -1]) {
        let length = 1;
        while (
          start + length < chars.length &&
          sequence[index + step * length] === chars[start + length]
        ) length++;
        for (let end = MIN_SEQUENCE_RUN; end <= length; end++) reachable[start + end] = true;
      }
    }
  }
  return reachable[chars.length] === true;
}

/** Whether `lower`, or it less up to MAX_COMMON_AFFIX digits, symbols
 * or spaces at its ends, folds to a list entry. */
function isCommon(lower: string, list: ReadonlySet<string>): boolean {
  const chars = [...lower];
  const affix = (char: string | undefined) => char !== undefined && !/\p{L}/u.test(char);
  for (let before = 0; before <= MAX_COMMON_AFFIX; before++) {
    if (before > 0 && !affix(chars[before - 1])) break;
    for (let after = 0; before + after <= MAX_COMMON_AFFIX; after++) {
      if (after > 0 && !affix(chars[chars.length - after])) break;
      if (before + after >= chars.length) break;
      const core = chars.slice(before, chars.length - after).join("");
      if (list.has(foldCommon(core))) return true;
    }
  }
  return false;
}
