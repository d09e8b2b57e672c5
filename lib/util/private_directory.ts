/**
 * Check that a directory the server writes into is its own: owned by the
 * user it runs as and writable by no one else. Otherwise another local
 * account could swap a file in it for a symbolic link between a check and
 * a write, or delete and replace files.
 *
 * @module
 */

/** Options for {@linkcode checkPrivateDirectory}. */
export interface PrivateDirectoryOptions {
  /** What the directory is, for the error. @default "data directory" */
  what?: string;
  /** The setting that names it (`--data`), for the error. */
  setting?: string;
  /**
   * The uid it must belong to; `null` skips the owner check. @default the
   * owner of a file this process creates in `dir` (the uid files are
   * written as, found without `--allow-sys=uid`)
   */
  uid?: number | null;
}

/**
 * Refuse a directory that is not a directory, writable by its group or by
 * everyone (a 1777 `/tmp`-like directory, too), or not owned by `uid`.
 *
 * @param dir The directory (a symbolic link to one is followed).
 * @param options What it is called, and the expected owner.
 * @throws {Deno.errors.PermissionDenied} Saying what is wrong and the
 * `chmod` or `chown` that fixes it.
 * @throws {Deno.errors.NotFound} When it does not exist, naming it.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { checkPrivateDirectory } from "./private_directory.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.chmod(dir, 0o1777);
 * await rejects(checkPrivateDirectory(dir, { uid: null }), /chmod 700/);
 * await Deno.chmod(dir, 0o700);
 * await checkPrivateDirectory(dir, { uid: null });
 * await Deno.remove(dir);
 * ```
 */
export async function checkPrivateDirectory(
  dir: string,
  options: PrivateDirectoryOptions = {},
): Promise<void> {
  const setting = options.setting === undefined ? "" : ` (${options.setting})`;
  const what = `${options.what ?? "data directory"} ${dir}${setting}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Deno.errors.NotFound(`Cannot use ${what}: no such directory`, { cause: error });
  }
  if (!info.isDirectory) {
    throw new Deno.errors.PermissionDenied(`Cannot use ${what}: it is not a directory`);
  }
  const mode = info.mode;
  if (mode !== null && (mode & 0o022) !== 0) {
    throw new Deno.errors.PermissionDenied(
      `Cannot use ${what}: it is writable by others (mode ${
        (mode & 0o7777).toString(8)
      }); fix it with: chmod 700 ${dir}`,
    );
  }
  const uid = options.uid === undefined ? await writerUid(dir) : options.uid;
  if (uid !== null && info.uid !== null && info.uid !== uid) {
    throw new Deno.errors.PermissionDenied(
      `Cannot use ${what}: it is owned by uid ${info.uid}, not by this user (uid ${uid}); fix it with: chown ${uid} ${dir}`,
    );
  }
}

/** The owner of a new file in `dir`: the uid this process writes as. */
async function writerUid(dir: string): Promise<number | null> {
  const probe = await Deno.makeTempFile({ dir, prefix: ".owner-probe-" });
  try {
    return (await Deno.lstat(probe)).uid;
  } finally {
    await Deno.remove(probe);
  }
}
