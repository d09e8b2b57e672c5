/**
 * {@linkcode whyUnreadable}: why a file could not be read, in a few words
 * for a person, instead of an OS error code.
 *
 * @module
 */

/**
 * Why reading a file failed, in words.
 *
 * @param error What the read threw.
 * @returns "no such file", "permission denied", "is a directory, not a
 * file", or the error's own message.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(whyUnreadable(new Deno.errors.NotFound("No such file or directory (os error 2)")), "no such file");
 * ```
 */
export function whyUnreadable(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return "permission denied";
  }
  if (error instanceof Deno.errors.IsADirectory) return "is a directory, not a file";
  return error instanceof Error ? error.message : String(error);
}
