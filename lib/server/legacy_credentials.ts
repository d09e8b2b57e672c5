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

/** The old default place of the accounts file. */
export const LEGACY_CREDENTIALS = "credentials.json";

/** The default place of the accounts file, inside the data directory. */
export const DEFAULT_CREDENTIALS = "data/credentials.json";

/**
 * Refuse to start with the default `data/credentials.json` missing while a
 * `credentials.json` from an earlier version sits in the working directory
 * (starting would create a second, fresh admin account and ignore the old
 * accounts).
 *
 * @param credentials The configured accounts file.
 * @throws {Deno.errors.AlreadyExists} Saying which `mv` to run.
 */
export async function refuseLegacyCredentials(credentials: string): Promise<void> {
  if (resolve(credentials) !== resolve(DEFAULT_CREDENTIALS)) return;
  if (await present(credentials) || !await present(LEGACY_CREDENTIALS)) return;
  throw new Deno.errors.AlreadyExists(
    `Cannot open ${DEFAULT_CREDENTIALS}: accounts are still in ${LEGACY_CREDENTIALS}, where earlier versions kept them; move them with: mv ${LEGACY_CREDENTIALS} ${DEFAULT_CREDENTIALS}`,
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
