/**
 * What the account stores need from the place their JSON lives: a file on
 * disk (`LockedJsonFile`) or, in cluster mode, a NATS KV entry
 * (lib/cluster/kv_json_document.ts). Every change re-reads the stored value,
 * applies the change and writes it only if nothing else wrote meanwhile
 * (a lock file, or a compare-and-set), so two writers never lose each
 * other's changes.
 *
 * @module
 */

/** How a {@linkcode JsonDocument}'s content is checked, written and refused. */
export interface JsonFormat<T extends object> {
  /**
   * Validate the stored value's parsed JSON.
   *
   * @returns The value, or what is wrong with it (never quoting a secret),
   * which goes to {@linkcode JsonFormat.invalid}.
   */
  parse(value: unknown): T | string;
  /** The stored text for `value`. */
  serialise(value: T): string;
  /**
   * The error for a value that is not valid JSON (then `options.cause` is
   * the `SyntaxError`) or that `parse` refuses.
   */
  invalid(problem: string, options?: ErrorOptions): Error;
  /**
   * The error for a value that exists but cannot be examined or read.
   * @default {the error itself}
   */
  unreadable?(error: Error): Error;
}

/** What a change function decided. */
export interface JsonChange<T extends object, R> {
  /** The new content; `undefined` leaves the stored value as it is. */
  readonly value: T | undefined;
  /** What {@linkcode JsonDocument.update} resolves to. */
  readonly result: R;
}

/** One JSON value, read freely and changed only with the writers excluded. */
export interface JsonDocument<T extends object> {
  /** Where it is, for messages: a file's path, `NATS KV banter_auth/credentials`. */
  readonly description: string;
  /**
   * Whether the stored value differs from what this instance last read or
   * wrote (cheap: a `stat`, one small round trip).
   */
  changed(): Promise<boolean>;
  /** Whether a value is stored at all. */
  exists(): Promise<boolean>;
  /**
   * Read and validate the value as it is now.
   *
   * @returns The value, or `undefined` when none is stored.
   * @throws {Error} What the format's `invalid` or `unreadable` builds.
   */
  read(): Promise<T | undefined>;
  /**
   * Re-read the value, apply `change` and write what it returns, with
   * other writers excluded. When `change` throws, nothing is written.
   * `change` may run more than once (a lost compare-and-set runs it again
   * on the newer value), so it must only compute.
   *
   * @param change Gets the current value (`undefined` when there is none)
   * and returns the new value, if any, and the result.
   * @returns The change's result.
   * @throws {Error} What `change` throws, what the format builds for a
   * stored value that is invalid, or why it could not be written.
   */
  update<R>(change: (current: T | undefined) => JsonChange<T, R>): Promise<R>;
}

/**
 * Opens a document for a store, given the store's format (the format is
 * the store's own; where the value lives is the caller's choice).
 */
export type JsonDocumentOpener = <T extends object>(format: JsonFormat<T>) => JsonDocument<T>;
