/**
 * A JSON file that several processes change (the credentials and lockout
 * files): every change takes the lock file beside it, re-reads and parses
 * the file as it is now, applies the change and replaces the file
 * atomically (mode 0600), then releases the lock, so two writers never lose
 * each other's changes and a crash never leaves a torn file.
 *
 * @module
 */
import { writeFileAtomic } from "../util/atomic_write.ts";
import { refuseSymlink } from "../util/no_symlink.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { withFileLock } from "./_file_lock.ts";
import { fileSignature } from "./_file_signature.ts";
import { Semaphore } from "./_semaphore.ts";

/** How a {@linkcode LockedJsonFile}'s content is checked, written and refused. */
export interface JsonFileFormat<T extends object> {
  /**
   * Validate the file's parsed JSON.
   *
   * @returns The value, or what is wrong with the file (never quoting a
   * secret), which goes to {@linkcode JsonFileFormat.invalid}.
   */
  parse(value: unknown): T | string;
  /** The file's text for `value`. */
  serialise(value: T): string;
  /** The error for a file that is not valid JSON or that `parse` refuses. */
  invalid(problem: string, options?: ErrorOptions): Error;
  /**
   * The error for a file that exists but cannot be examined or read.
   * @default {the error itself}
   */
  unreadable?(error: Error): Error;
}

/** Options for {@linkcode LockedJsonFile}. */
export interface LockedJsonFileOptions {
  /** How long a change waits for another writer's lock. @default {10000} */
  lockTimeoutMs?: number | undefined;
  /** Time source for lock ages and retries. @default {systemClock} */
  clock?: Clock | undefined;
  /** Replaces the file's content (a seam for a full disk, which tests
   * cannot make). @default {writeFileAtomic} */
  writeFile?: ((path: string, text: string) => Promise<void>) | undefined;
}

/** What a change function decided. */
export interface JsonFileChange<T extends object, R> {
  /** The new content; `undefined` leaves the file as it is. */
  readonly value: T | undefined;
  /** What {@linkcode LockedJsonFile.update} resolves to. */
  readonly result: R;
}

/** One JSON file, read freely and changed only under its lock file. */
export class LockedJsonFile<T extends object> {
  readonly #path: string;
  readonly #format: JsonFileFormat<T>;
  readonly #lock: { timeoutMs: number; clock: Clock };
  readonly #writeFile: (path: string, text: string) => Promise<void>;
  /** This instance's changes queue here; the file lock is for others. */
  readonly #writes = new Semaphore(1);
  #signature: string | undefined;

  /**
   * @param path The file; its lock file is `${path}.lock`.
   * @param format How its content is checked and written.
   * @param options Lock timeout, clock and writer.
   */
  constructor(path: string, format: JsonFileFormat<T>, options: LockedJsonFileOptions = {}) {
    this.#path = path;
    this.#format = format;
    this.#lock = {
      timeoutMs: options.lockTimeoutMs ?? 10_000,
      clock: options.clock ?? systemClock,
    };
    this.#writeFile = options.writeFile ?? writeFileAtomic;
  }

  /** The file this reads and writes. */
  get path(): string {
    return this.#path;
  }

  /**
   * Whether the file differs from what this instance last read or wrote
   * (one `stat`).
   *
   * @returns `true` when another process replaced, edited or removed it.
   */
  async changed(): Promise<boolean> {
    return await fileSignature(this.#path) !== this.#signature;
  }

  /**
   * Read and validate the file as it is now, without the lock (writers
   * replace it atomically, so a read never sees half a change).
   *
   * @returns The value, or `undefined` when the file does not exist.
   * @throws {Error} What the format's `invalid` or `unreadable` builds.
   */
  async read(): Promise<T | undefined> {
    const signature = await fileSignature(this.#path).catch((error) => {
      throw this.#unreadable(error);
    });
    if (signature === undefined) return undefined;
    const value = await this.#parse();
    if (value === undefined) return undefined;
    this.#signature = signature;
    return value;
  }

  /**
   * Lock the file, re-read it, apply `change` and write what it returns,
   * then unlock. When `change` throws, the file is left as it was.
   *
   * @param change Gets the current value (`undefined` when there is no
   * file) and returns the new value, if any, and the result.
   * @returns The change's result.
   * @throws {Deno.errors.TimedOut} When another writer holds the lock for
   * `lockTimeoutMs`.
   * @throws {Error} What `change` throws, or what the format builds for a
   * file that cannot be read or is invalid.
   */
  async update<R>(change: (current: T | undefined) => JsonFileChange<T, R>): Promise<R> {
    return await this.#writes.run(() =>
      withFileLock(`${this.#path}.lock`, async () => {
        const { value, result } = change(await this.#parse());
        if (value !== undefined) {
          await this.#writeFile(this.#path, this.#format.serialise(value));
        }
        this.#signature = await fileSignature(this.#path);
        return result;
      }, this.#lock)
    );
  }

  /** The file's value now; `undefined` when it does not exist. */
  async #parse(): Promise<T | undefined> {
    // A planted link would make the next write's content come from its target.
    await refuseSymlink(this.#path, "file");
    let text;
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw this.#unreadable(error);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      throw this.#format.invalid("not valid JSON", { cause: error });
    }
    const value = this.#format.parse(json);
    if (typeof value === "string") throw this.#format.invalid(value);
    return value;
  }

  #unreadable(error: unknown): unknown {
    if (!(error instanceof Error) || this.#format.unreadable === undefined) return error;
    return this.#format.unreadable(error);
  }
}
