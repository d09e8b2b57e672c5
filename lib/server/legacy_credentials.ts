/**
 * Where accounts used to live. Earlier versions kept `credentials.json` in
 * the working directory, which made the server need write access to the
 * whole checkout (its atomic writes and lock put files beside it). Accounts
 * now live in the data directory; a file left at the old place is never
 * read or moved silently: start-up stops and says what to run.
 *
 * @module
 */
import { resolve } from "node:path";
import { CREDENTIALS_FILE, type ServerConfig } from "./settings.ts";

/** The old default place of the accounts file. */
export const LEGACY_CREDENTIALS = "credentials.json";

/**
 * Refuse to start with the accounts file at its default place
 * (`DATA/credentials.json`, `data/credentials.json` by default) missing
 * while a `credentials.json` from an earlier version sits in the working
 * directory (starting would create a second, fresh admin account and
 * ignore the old accounts).
 *
 * @param config The resolved accounts file and data directory.
 * @throws {Deno.errors.AlreadyExists} Saying which `mv` to run.
 */
export async function refuseLegacyCredentials(
  config: Pick<ServerConfig, "credentials" | "data">,
): Promise<void> {
  const { credentials } = config;
  const at = resolve(credentials);
  if (at !== resolve(config.data, CREDENTIALS_FILE) || at === resolve(LEGACY_CREDENTIALS)) return;
  if (await present(credentials) || !await present(LEGACY_CREDENTIALS)) return;
  throw new Deno.errors.AlreadyExists(
    `Cannot open ${credentials}: accounts are still in ${LEGACY_CREDENTIALS}, where earlier versions kept them; move them with: mv ${LEGACY_CREDENTIALS} ${credentials}`,
  );
}

async function present(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    // Not there, or not ours to look at (the task grants read of this one name).
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return false;
    }
    throw error;
  }
}
