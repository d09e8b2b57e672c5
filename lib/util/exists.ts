/**
 * Whether a path names anything, without following it.
 *
 * @module
 */

/**
 * Whether something exists at `path`: a file, a directory, or a symbolic
 * link, even a dangling one (so a caller about to create `path` does not
 * write through a link).
 *
 * @param path The path to look at.
 * @returns `false` only when nothing is there.
 * @throws {Deno.errors.PermissionDenied} When `path` cannot be examined.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exists } from "./exists.ts";
 * const dir = await Deno.makeTempDir();
 * equal(await exists(dir), true);
 * equal(await exists(`${dir}/missing`), false);
 * await Deno.remove(dir);
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
