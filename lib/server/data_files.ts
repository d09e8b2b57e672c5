/**
 * Start-up checks of the files the server writes: the data directory (and
 * the credentials file's directory) must be the server user's own and
 * writable by no one else, and none of the files may be a symbolic link.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { checkPrivateDirectory } from "../util/private_directory.ts";
import { refuseSymlink } from "../util/no_symlink.ts";
import { HISTORY_FILES } from "./history_file.ts";
import type { ServerConfig } from "./settings.ts";

/** The lockout file's name in the data directory. */
export const LOCKOUT_FILE = "lockout.json";

/**
 * Create the data directory and the credentials file's directory (mode
 * 0700) when they do not exist yet; existing ones are left as they are
 * (and checked by {@linkcode checkDataFiles}).
 *
 * @param config Where the data directory and the credentials are.
 */
export async function createDataDirectories(
  config: Pick<ServerConfig, "data" | "credentials">,
): Promise<void> {
  await Deno.mkdir(config.data, { recursive: true, mode: 0o700 });
  await Deno.mkdir(dirname(config.credentials), { recursive: true, mode: 0o700 });
}

/**
 * Refuse to start on a data directory another account could tamper with,
 * or on a symbolic link where a data file, the credentials file or their
 * lock files belong.
 *
 * @param config Where the data directory and the credentials are.
 * @param uid The uid the directories must belong to. @default the uid this
 * process writes files as
 * @throws {Deno.errors.PermissionDenied} Naming the directory and the fix.
 * @throws {Deno.errors.AlreadyExists} Naming the symbolic link.
 * @throws {Deno.errors.NotFound} Naming the directory and its setting.
 */
export async function checkDataFiles(
  config: Pick<ServerConfig, "data" | "credentials">,
  uid?: number | null,
): Promise<void> {
  const owner = uid === undefined ? {} : { uid };
  await checkPrivateDirectory(config.data, {
    what: "data directory",
    setting: "--data",
    ...owner,
  });
  const credentialsDir = dirname(config.credentials);
  if (resolve(credentialsDir) !== resolve(config.data)) {
    await checkPrivateDirectory(credentialsDir, {
      what: "credentials directory",
      setting: "--credentials",
      ...owner,
    });
  }
  const files: [string, string][] = [
    ...HISTORY_FILES.map((name): [string, string] => [join(config.data, name), "history file"]),
    [join(config.data, LOCKOUT_FILE), "lockout file"],
    [join(config.data, `${LOCKOUT_FILE}.lock`), "lockout lock file"],
    [config.credentials, "credentials file"],
    [`${config.credentials}.lock`, "credentials lock file"],
  ];
  for (const [path, what] of files) await refuseSymlink(path, what);
}
