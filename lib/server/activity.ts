/**
 * Who is online and when each account last logged in, for the admin CLI
 * (`deno task user list`), which runs as a separate process.
 *
 * The server keeps it in memory and writes `data/activity.json` atomically,
 * at most once per {@linkcode ACTIVITY_WRITE_DELAY_MS} after a change (a
 * burst of logins is one write), and every {@linkcode ACTIVITY_HEARTBEAT_MS}
 * so readers can tell a live file from one left by a server that was
 * killed: older than {@linkcode ACTIVITY_STALE_MS} means "server not
 * running". On shutdown it is written once more with `running: false`.
 * The credentials file is never rewritten for this. Last logins survive a
 * restart (they are read back at start); the online counts do not.
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../util/clock.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { isRecord } from "../util/is_record.ts";

/** The file's name in the data directory. */
export const ACTIVITY_FILE = "activity.json";
/** How long after a login or logout the file is written. */
export const ACTIVITY_WRITE_DELAY_MS = 1_000;
/** How often a running server rewrites the file, changed or not. */
export const ACTIVITY_HEARTBEAT_MS = 60_000;
/** A file written longer ago than this was left by a server that is gone. */
export const ACTIVITY_STALE_MS = 3 * ACTIVITY_HEARTBEAT_MS;
/** Last-login times kept; beyond this the oldest are dropped. */
export const MAX_LAST_LOGINS = 10_000;

/** What the file holds. */
export interface ActivitySnapshot {
  /** `false` once the server shut down cleanly. */
  readonly running: boolean;
  /** When the server last wrote it (ms since the epoch). */
  readonly updatedAt: number;
  /** Sessions online per account name. */
  readonly online: Readonly<Record<string, number>>;
  /** Last login per account name (ms since the epoch). */
  readonly lastLogin: Readonly<Record<string, number>>;
}

/** Options for {@linkcode ActivityLog.open}. */
export interface ActivityLogOptions {
  /** Time and timers. @default {systemClock} */
  clock?: Clock;
  /** A write failed (it is retried at the next change or heartbeat).
   * @default {nothing} */
  onError?: (error: Error) => void;
  /** Replaces the file (a seam for tests). @default {writeFileAtomic} */
  writeFile?: (path: string, text: string) => Promise<void>;
}

/**
 * The server's side: counts sessions and last logins, writes the file.
 *
 * @example
 * ```ts
 * import { ActivityLog, readActivity } from "./activity.ts";
 * import { equal } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const log = await ActivityLog.open(`${dir}/activity.json`);
 * log.entered("alice");
 * await log.close();
 * const snapshot = await readActivity(`${dir}/activity.json`);
 * equal(snapshot?.running, false);
 * equal(typeof snapshot?.lastLogin["alice"], "number");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ActivityLog {
  #path: string;
  #clock: Clock;
  #onError: (error: Error) => void;
  #writeFile: (path: string, text: string) => Promise<void>;
  #online = new Map<string, number>();
  #lastLogin = new Map<string, number>();
  #pending: TimerId | undefined;
  #heartbeat: TimerId;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, lastLogin: Map<string, number>, options: ActivityLogOptions) {
    this.#path = path;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#writeFile = options.writeFile ?? ((p, text) => writeFileAtomic(p, text));
    this.#lastLogin = lastLogin;
    this.#heartbeat = this.#clock.setInterval(() => this.#write(), ACTIVITY_HEARTBEAT_MS);
  }

  /**
   * Read back the last logins of an earlier run (a missing or broken file
   * starts empty) and write the file once, marked running.
   *
   * @param path The file, e.g. `data/activity.json`.
   * @param options Clock, error reporter, write seam.
   * @returns The log.
   */
  static async open(path: string, options: ActivityLogOptions = {}): Promise<ActivityLog> {
    let lastLogin = new Map<string, number>();
    try {
      const earlier = await readActivity(path);
      if (earlier !== undefined) {
        lastLogin = new Map(
          Object.entries(earlier.lastLogin).sort(([, a], [, b]) => a - b),
        );
      }
    } catch (error) {
      options.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
    const log = new ActivityLog(path, lastLogin, options);
    log.#write();
    await log.#writing;
    return log;
  }

  /** A session of `name` logged in. */
  entered(name: string): void {
    this.#online.set(name, (this.#online.get(name) ?? 0) + 1);
    this.#lastLogin.delete(name); // re-inserted: oldest first
    this.#lastLogin.set(name, this.#clock.now());
    for (const key of this.#lastLogin.keys()) {
      if (this.#lastLogin.size <= MAX_LAST_LOGINS) break;
      this.#lastLogin.delete(key);
    }
    this.#schedule();
  }

  /** A session of `name` ended. */
  left(name: string): void {
    const count = (this.#online.get(name) ?? 0) - 1;
    if (count > 0) this.#online.set(name, count);
    else this.#online.delete(name);
    this.#schedule();
  }

  /** Stop the timers and write the file marked not running. */
  async close(): Promise<void> {
    if (this.#closed) return await this.#writing;
    this.#closed = true;
    this.#clock.clearInterval(this.#heartbeat);
    this.#clock.clearTimeout(this.#pending);
    this.#pending = undefined;
    this.#online.clear();
    this.#write();
    await this.#writing;
  }

  #schedule(): void {
    if (this.#closed || this.#pending !== undefined) return;
    this.#pending = this.#clock.setTimeout(() => {
      this.#pending = undefined;
      this.#write();
    }, ACTIVITY_WRITE_DELAY_MS);
  }

  /** Queue one write of the current state; writes never overlap. */
  #write(): void {
    const snapshot: ActivitySnapshot = {
      running: !this.#closed,
      updatedAt: this.#clock.now(),
      online: Object.fromEntries(this.#online),
      lastLogin: Object.fromEntries(this.#lastLogin),
    };
    const text = JSON.stringify({ version: 1, ...snapshot }) + "\n";
    this.#writing = this.#writing.then(() => this.#writeFile(this.#path, text)).catch(
      (error) => this.#onError(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/**
 * The admin CLI's side: read the file.
 *
 * @param path The file.
 * @returns What it holds, or `undefined` when there is none (the server
 * never ran on this data directory).
 * @throws {SyntaxError} When the file is not an activity file.
 */
export async function readActivity(path: string): Promise<ActivitySnapshot | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const value: unknown = JSON.parse(text);
  if (
    !isRecord(value) || value.version !== 1 || typeof value.running !== "boolean" ||
    !Number.isSafeInteger(value.updatedAt) || !isCounts(value.online) ||
    !isCounts(value.lastLogin)
  ) {
    throw new SyntaxError(`Cannot read activity from ${path}: not an activity file`);
  }
  return {
    running: value.running,
    updatedAt: value.updatedAt as number,
    online: value.online,
    lastLogin: value.lastLogin,
  };
}

/**
 * Whether `snapshot` comes from a server running now: marked running and
 * written within {@linkcode ACTIVITY_STALE_MS}.
 *
 * @param snapshot What {@linkcode readActivity} read.
 * @param now The current time.
 * @returns `true` when its online counts can be trusted.
 */
export function isLive(snapshot: ActivitySnapshot, now: number): boolean {
  return snapshot.running && now - snapshot.updatedAt <= ACTIVITY_STALE_MS;
}

function isCounts(value: unknown): value is Record<string, number> {
  return isRecord(value) &&
    Object.values(value).every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
}

/** What {@linkcode trackActivity} wraps: the hub as a session sees it. */
export interface EnterableHub<P extends { leave(reason?: string): void }> {
  enter(member: { readonly name: string }): P;
}

/**
 * Count every session that enters `hub` in `log`, until it leaves: the
 * returned `enter` records the login and wraps the presence's `leave`.
 *
 * @param hub The hub sessions enter.
 * @param log Where logins and logouts are counted.
 * @returns An `enter` to give sessions in place of the hub's.
 */
export function trackActivity<
  M extends { readonly name: string },
  P extends { leave(reason?: string): void },
>(
  hub: { enter(member: M): P },
  log: Pick<ActivityLog, "entered" | "left">,
): (member: M) => P {
  return (member) => {
    const presence = hub.enter(member);
    log.entered(member.name);
    const leave = presence.leave;
    let gone = false;
    // Everything else stays the presence's own; only leaving is counted.
    presence.leave = (reason?: string) => {
      if (!gone) {
        gone = true;
        log.left(member.name);
      }
      leave.call(presence, reason);
    };
    return presence;
  };
}
