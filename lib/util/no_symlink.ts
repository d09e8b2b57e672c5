/**
 * Refuse to write through a symbolic link: a link planted where the server
 * keeps a file would make it create, chmod or overwrite the link's target.
 *
 * @module
 */

/**
 * Throw when `path` is a symbolic link; a missing path is fine.
 *
 * Checking first and opening later is safe only in a directory no one else
 * can write to, which `checkPrivateDirectory()` makes sure of for the data
 * directory.
 *
 * @param path The file about to be written.
 * @param what What it is, for the error (e.g. "history").
 * @throws {Deno.errors.AlreadyExists} "Cannot use <what> <path>: it is a
 * symbolic link", naming the file and never following it.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { refuseSymlink } from "./no_symlink.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.symlink("/etc/hostname", `${dir}/history.db`);
 * await rejects(refuseSymlink(`${dir}/history.db`, "history"), /symbolic link/);
 * await refuseSymlink(`${dir}/missing.db`, "history");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function refuseSymlink(path: string, what: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isSymlink) {
    throw new Deno.errors.AlreadyExists(
      `Cannot use ${what} ${path}: it is a symbolic link (replace it with a regular file)`,
    );
  }
}
