/**
 * Crash-safe file replacement: write a temporary file in the same directory,
 * fsync it, then rename it over the target.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { refuseSymlink } from "./no_symlink.ts";

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode of the new file. @default 0o600 */
  mode?: number;
}

/**
 * Replace `path` with `data` so that readers see the old or the new content,
 * never a mix, even if the process is killed mid-write. A symbolic link at
 * `path` is refused, never replaced or followed.
 *
 * @param path The file to replace.
 * @param data The new content.
 * @param options File mode.
 * @throws {Deno.errors.NotFound} When the directory does not exist.
 * @throws {Deno.errors.AlreadyExists} When `path` is a symbolic link.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  await refuseSymlink(path, "file");
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const suffix = crypto.randomUUID().slice(0, 8);
  const tmp = join(dirname(path), `.${basename(path)}.${suffix}.tmp`);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await file.write(bytes.subarray(written));
    }
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => undefined);
    throw error;
  }
  file.close();
  // `mode` on open is filtered by the umask: set it exactly.
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, path);
  await syncDirectory(dirname(path));
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on a directory; the rename still happened.
    if (
      error instanceof Deno.errors.NotSupported ||
      error instanceof Deno.errors.PermissionDenied
    ) return;
    throw error;
  }
}
