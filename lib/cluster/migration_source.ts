/**
 * The single-node install a migration reads: its accounts (read by
 * `CredentialStore`, so they are valid as the server reads them), its
 * lockout records (checked by `Lockout`, merged per record) and its chat
 * history (read-only SQL). Nothing of it is written.
 *
 * The server must not be running on it: a server (or one that crashed)
 * leaves a non-empty `history.db-wal`, and that is refused, so what is
 * migrated is all there is.
 *
 * @module
 */
import { CredentialStore } from "../auth/store.ts";
import { Lockout } from "../auth/lockout.ts";
import { SessionTokens } from "../auth/session_tokens.ts";
import { whyUnreadable } from "../util/why_unreadable.ts";
import {
  type AccountRecord,
  type LockoutTables,
  parseLockouts,
  parseTokens,
  type TokenRecord,
} from "./auth_merge.ts";
import { HistoryReader } from "./_history_reader.ts";

/** Where the install's files are. */
export interface MigrationSourcePaths {
  /** `credentials.json`. */
  credentials: string;
  /** `lockout.json` (missing: no lockouts). */
  lockout: string;
  /** `tokens.json`, the web sessions (missing: none). */
  tokens: string;
  /** `history.db`. */
  history: string;
}

/** The install, read. */
export interface MigrationSource extends Disposable {
  readonly accounts: readonly AccountRecord[];
  /** `undefined` when there is no lockout file. */
  readonly lockouts: LockoutTables | undefined;
  /** Web session tokens by digest (empty when there is no token file). */
  readonly tokens: ReadonlyMap<string, TokenRecord>;
  readonly history: HistoryReader;
}

/** The install cannot be read, or is in use. */
export class MigrationSourceError extends Error {
  /**
   * @param message What and why (one line, no secret).
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrationSourceError";
  }
}

/**
 * Read the install at `paths`.
 *
 * @param paths Its files.
 * @returns The accounts and lockouts, and the history open read-only.
 * @throws {MigrationSourceError} When a file cannot be read or is not valid,
 * or the server seems to be running on it.
 */
export async function openMigrationSource(paths: MigrationSourcePaths): Promise<MigrationSource> {
  await refuseLiveHistory(paths.history);
  const accounts = await readAccounts(paths.credentials);
  const lockouts = await readLockouts(paths.lockout);
  const tokens = await readTokens(paths.tokens);
  let history: HistoryReader;
  try {
    await Deno.stat(paths.history);
    history = new HistoryReader(paths.history);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new MigrationSourceError(
      `Cannot read the history file ${paths.history}: ${whyUnreadable(error)}`,
      { cause: error },
    );
  }
  return {
    accounts,
    lockouts,
    tokens,
    history,
    [Symbol.dispose]() {
      history.close();
    },
  };
}

async function refuseLiveHistory(path: string): Promise<void> {
  const wal = `${path}-wal`;
  let size = 0;
  try {
    size = (await Deno.stat(wal)).size;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (size > 0) {
    throw new MigrationSourceError(
      `Cannot migrate: ${wal} holds ${size} bytes, so a server is running on this data or did not stop cleanly (stop it; after a crash start and stop it once)`,
    );
  }
}

async function readAccounts(path: string): Promise<AccountRecord[]> {
  let store: CredentialStore;
  try {
    store = await CredentialStore.open(path, { createIfMissing: false });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new MigrationSourceError((error as Error).message, { cause: error });
  }
  return store.list().map(({ name }) => {
    const entry = store.get(name)!;
    return { name, id: entry.id, role: entry.role, hash: entry.hash };
  });
}

async function readTokens(path: string): Promise<Map<string, TokenRecord>> {
  const text = await readOptional(path, "session token file");
  if (text === undefined) return new Map();
  try {
    // As the server reads it, then token by token for the merge.
    await SessionTokens.open(path);
    return parseTokens(text, `the session token file ${path}`);
  } catch (error) {
    throw new MigrationSourceError((error as Error).message, { cause: error });
  }
}

/** A file's text; `undefined` when it does not exist. */
async function readOptional(path: string, what: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new MigrationSourceError(`Cannot read the ${what} ${path}: ${whyUnreadable(error)}`, {
      cause: error,
    });
  }
}

async function readLockouts(path: string): Promise<LockoutTables | undefined> {
  const text = await readOptional(path, "lockout file");
  if (text === undefined) return undefined;
  try {
    // As the server reads it, then record by record for the merge.
    await Lockout.open(path);
    return parseLockouts(text, `the lockout file ${path}`);
  } catch (error) {
    throw new MigrationSourceError((error as Error).message, { cause: error });
  }
}
