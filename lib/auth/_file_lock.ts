/**
 * An exclusive lock between processes on one machine: a lock file that is
 * created only if absent (holding the owner's pid and start time) and that
 * its owner keeps `flock`ed while it lives. The kernel drops the `flock`
 * when the owner dies, even by SIGKILL, so a waiter that can `flock` the
 * file knows the owner is gone and breaks the lock at once: this tells a
 * dead owner from a live one without reading `/proc` (which Deno only
 * allows with `--allow-all`) and without trusting pids, which are reused.
 * A lock older than `staleMs` is broken too, as a backstop for a hung owner
 * or a filesystem without `flock`. Not for network filesystems.
 *
 * @module
 */
import { type Clock, delay, systemClock } from "../util/clock.ts";
import { isRecord } from "../util/is_record.ts";

/** Options for {@linkcode withFileLock}. */
export interface FileLockOptions {
  /** How long to wait for the lock before giving up. @default {10000} */
  timeoutMs?: number;
  /** Age after which a lock is broken even if its owner seems alive.
   * @default {30000} */
  staleMs?: number;
  /** Time source for lock ages. @default {systemClock} */
  clock?: Clock;
}

interface Held {
  readonly file: Deno.FsFile;
  readonly content: string;
}

const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 50;

/**
 * Run `task` while holding the lock file `lockPath`.
 *
 * @param lockPath The lock file, e.g. `credentials.json.lock`.
 * @param task The work to do under the lock.
 * @param options Timeouts and clock.
 * @returns What `task` resolves to.
 * @throws {Deno.errors.TimedOut} When the lock stays taken for `timeoutMs`.
 */
export async function withFileLock<T>(
  lockPath: string,
  task: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const held = await acquire(lockPath, options);
  try {
    return await task();
  } finally {
    await release(lockPath, held);
  }
}

async function acquire(
  lockPath: string,
  options: FileLockOptions,
): Promise<Held> {
  const { timeoutMs = 10_000, staleMs = 30_000, clock = systemClock } = options;
  const content = JSON.stringify({
    pid: Deno.pid,
    created: clock.now(),
    token: crypto.randomUUID(),
  });
  let waited = 0;
  let retryMs = FIRST_RETRY_MS;
  for (;;) {
    const held = await createExclusive(lockPath, content);
    if (held) return held;
    if (await breakIfAbandoned(lockPath, staleMs, clock)) continue;
    if (waited >= timeoutMs) {
      const owner = parseLock(await readText(lockPath) ?? "");
      throw new Deno.errors.TimedOut(
        `Cannot lock ${lockPath}: held by pid ${owner?.pid ?? "unknown"} for over ${timeoutMs} ms`,
      );
    }
    await delay(clock, retryMs);
    waited += retryMs;
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }
}

/** Create `path` with `content` only if it does not exist, `flock`ed by
 * us: write and lock a private temp file, then hard-link it into place
 * (which fails if the name exists), so the lock file is never seen
 * half-written or unlocked while its owner lives. */
async function createExclusive(
  path: string,
  content: string,
): Promise<Held | undefined> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  try {
    await file.write(new TextEncoder().encode(content));
    await file.tryLock(true);
    await Deno.link(tmp, path);
    return { file, content };
  } catch (error) {
    file.close();
    if (error instanceof Deno.errors.AlreadyExists) return undefined;
    throw error;
  } finally {
    await Deno.remove(tmp);
  }
}

async function release(lockPath: string, held: Held): Promise<void> {
  try {
    // Only remove our own lock: if it was broken as stale, it is not ours.
    if (await readText(lockPath) === held.content) await Deno.remove(lockPath);
  } finally {
    held.file.close();
  }
}

/**
 * Remove the lock file if its owner is gone (we can `flock` it) or it is
 * older than `staleMs`.
 *
 * Only the file we examined is removed: we check, while holding its
 * `flock`, that the name still points to it. Live owners hold the `flock`
 * until after they remove their file, so two breakers cannot both remove
 * different locks.
 *
 * @returns `true` when the lock is gone (retry now), `false` when it is
 * held by a live owner.
 */
async function breakIfAbandoned(
  lockPath: string,
  staleMs: number,
  clock: Clock,
): Promise<boolean> {
  // Never open a planted symbolic link (it could name any file).
  const link = await Deno.lstat(lockPath).catch(ignoreNotFound);
  if (link === undefined) return true;
  if (link.isSymlink) {
    throw new Deno.errors.AlreadyExists(
      `Cannot lock ${lockPath}: it is a symbolic link (remove it)`,
    );
  }
  let file;
  try {
    file = await Deno.open(lockPath, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
  try {
    const examined = await file.stat();
    if (!examined.isFile) {
      throw new Deno.errors.AlreadyExists(
        `Cannot lock ${lockPath}: it exists and is not a file`,
      );
    }
    if (!await tryFlock(file)) {
      const created = parseLock(await readSmall(file))?.created ?? clock.now();
      if (clock.now() - created <= staleMs) return false;
    }
    const current = await Deno.stat(lockPath).catch(ignoreNotFound);
    if (current?.ino === examined.ino && current?.dev === examined.dev) {
      await Deno.remove(lockPath).catch(ignoreNotFound);
    }
    return true;
  } finally {
    file.close();
  }
}

/** `flock` without waiting; `false` when taken, or when the filesystem
 * has no `flock` (the lock's age decides then). */
async function tryFlock(file: Deno.FsFile): Promise<boolean> {
  try {
    return await file.tryLock(true);
  } catch (error) {
    if (error instanceof Deno.errors.NotSupported) return false;
    throw error;
  }
}

/** The start of an open lock file (lock files are tiny). */
async function readSmall(file: Deno.FsFile): Promise<string> {
  const buffer = new Uint8Array(1024);
  let length = 0;
  while (length < buffer.length) {
    const n = await file.read(buffer.subarray(length));
    if (n === null) break;
    length += n;
  }
  return new TextDecoder().decode(buffer.subarray(0, length));
}

function parseLock(text: string): { pid: unknown; created: number } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value) && typeof value.created === "number" && Number.isFinite(value.created)) {
      return { pid: value.pid, created: value.created };
    }
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  return undefined;
}

async function readText(path: string): Promise<string | undefined> {
  return await Deno.readTextFile(path).catch(ignoreNotFound);
}

function ignoreNotFound(error: unknown): undefined {
  if (error instanceof Deno.errors.NotFound) return undefined;
  throw error;
}
