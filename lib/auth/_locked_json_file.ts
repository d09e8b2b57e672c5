/**
 * A JSON file that several processes change (the credentials and lockout
 * files): every change takes the lock file beside it, re-reads and parses
 * the file as it is now, applies the change and replaces the file
 * atomically (mode 0600), then releases the lock, so two writers never lose
 * each other's changes and a crash never leaves a torn file.
 * It is the file {@linkcode JsonDocument}; a file with one writer process
 * (`shared: false`) needs no lock file.
 *
 * @module
 */
import { dirname } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { refuseSymlink } from "../util/no_symlink.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { withFileLock } from "./_file_lock.ts";
import { fileSignature } from "./_file_signature.ts";
import { Semaphore } from "./_semaphore.ts";
import type { JsonChange, JsonDocument, JsonFormat } from "./json_document.ts";

/** How a {@linkcode LockedJsonFile}'s content is checked, written and refused. */
export type JsonFileFormat<T extends object> = JsonFormat<T>;

/** Options for {@linkcode LockedJsonFile}. */
export interface LockedJsonFileOptions {
  /** How long a change waits for another writer's lock. @default {10000} */
  lockTimeoutMs?: number | undefined;
  /** Time source for lock ages and retries. @default {systemClock} */
  clock?: Clock | undefined;
  /** Replaces the file's content (a seam for a full disk, which tests
   * cannot make). @default {writeFileAtomic} */
  writeFile?: ((path: string, text: string) => Promise<void>) | undefined;
  /** Other processes change the file too: each change takes the lock file.
   * `false` when this process is its only writer (the in-process queue is
   * enough; no lock file is made). @default {true} */
  shared?: boolean | undefined;
  /** Create the file's directory (mode 0700) before a change. @default {false} */
  createDirectory?: boolean | undefined;
}

/** What a change function decided. */
export type JsonFileChange<T extends object, R> = JsonChange<T, R>;

/** One JSON file, read freely and changed only under its lock file. */
export class LockedJsonFile<T extends object> implements JsonDocument<T> {
  readonly #path: string;
  readonly #format: JsonFileFormat<T>;
  readonly #lock: { timeoutMs: number; clock: Clock };
  readonly #writeFile: (path: string, text: string) => Promise<void>;
  readonly #shared: boolean;
  readonly #createDirectory: boolean;
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
    this.#shared = options.shared ?? true;
    this.#createDirectory = options.createDirectory ?? false;
  }

  /** The file this reads and writes. */
  get path(): string {
    return this.#path;
  }

  /** The file's path, for messages. */
  get description(): string {
    return this.#path;
  }

  /** Whether the file exists (one `stat`). */
  async exists(): Promise<boolean> {
    return await fileSignature(this.#path) !== undefined;
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
    const apply = async () => {
      const { value, result } = change(await this.#parse());
      if (value !== undefined) {
        await this.#writeFile(this.#path, this.#format.serialise(value));
      }
      this.#signature = await fileSignature(this.#path);
      return result;
    };
    return await this.#writes.run(async () => {
      if (this.#createDirectory) {
        await Deno.mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
      }
      return this.#shared
        ? await withFileLock(`${this.#path}.lock`, apply, this.#lock)
        : await apply();
    });
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
