/**
 * A cheap fingerprint of a file (inode, size, modification time) for
 * noticing that another process replaced it.
 *
 * @module
 */

/**
 * Fingerprint `path` with one `stat`.
 *
 * @param path The file.
 * @returns A string that changes whenever the file is replaced or edited,
 * or `undefined` when the file does not exist.
 */
export async function fileSignature(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    return [info.ino, info.size, info.mtime?.getTime(), info.ctime?.getTime()]
      .join(":");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
