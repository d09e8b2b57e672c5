/**
 * The errors `Hub.enter` throws for a name that may not enter:
 * {@linkcode BannedError} and {@linkcode NameTakenError}.
 *
 * @module
 */
/** Thrown by `Hub.enter` when the name is banned. */
export class BannedError extends Error {
  /** The banned name. */
  readonly user: string;

  /**
   * @param user The banned name.
   * @param options Standard error options.
   */
  constructor(user: string, options?: ErrorOptions) {
    super(`Cannot enter: ${user} is banned`, options);
    this.name = "BannedError";
    this.user = user;
  }
}

/**
 * Thrown by `Hub.enter` when the name is reserved (`RESERVED_USER_NAMES`
 * in lib/auth/user_name.ts, look-alikes included) and the newcomer is not
 * the operator, when it belongs to the joke bot, or
 * to the operator and the newcomer is not the operator.
 */
export class NameTakenError extends Error {
  /** The name asked for. */
  readonly user: string;

  /**
   * @param user The name asked for.
   * @param options Standard error options.
   */
  constructor(user: string, options?: ErrorOptions) {
    super(`Cannot enter: the name ${user} is taken`, options);
    this.name = "NameTakenError";
    this.user = user;
  }
}
