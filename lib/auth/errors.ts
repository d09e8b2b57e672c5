/**
 * Errors of the accounts module that callers catch and turn into a reply
 * (the admin CLI prints them; the server refuses to start). None of them
 * ever carries a password or a hash.
 *
 * @module
 */

/** The credentials file cannot be read or does not have the expected shape. */
export class CredentialsError extends Error {
  /** The file that could not be loaded. */
  readonly path: string;

  /**
   * Describe a credentials file that cannot be loaded.
   *
   * @param path The credentials file.
   * @param problem What is wrong with it.
   * @param options The underlying error, if any.
   */
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`Cannot load credentials from ${path}: ${problem}`, options);
    this.name = "CredentialsError";
    this.path = path;
  }
}

/** The named user does not exist. */
export class UnknownUserError extends Error {
  /** The name that was not found. */
  readonly user: string;

  /**
   * Describe a missing user.
   *
   * @param user The name that was not found.
   * @param action What could not be done, e.g. `"remove user"`.
   */
  constructor(user: string, action: string) {
    super(`Cannot ${action} "${user}": no such user`);
    this.name = "UnknownUserError";
    this.user = user;
  }
}

/** A user with that name, or one that looks like it (see
 * `userNameSkeleton`), already exists. */
export class DuplicateUserError extends Error {
  /** The name asked for. */
  readonly user: string;
  /** The existing name it collides with. */
  readonly existing: string;

  /**
   * Describe a name collision.
   *
   * @param user The name asked for.
   * @param existing The existing name it collides with.
   */
  constructor(user: string, existing: string) {
    super(
      existing === user
        ? `Cannot add user "${user}": user already exists`
        : existing.toLowerCase() === user.toLowerCase()
        ? `Cannot add user "${user}": user "${existing}" already exists`
        : `Cannot add user "${user}": it looks like the existing user "${existing}"`,
    );
    this.name = "DuplicateUserError";
    this.user = user;
    this.existing = existing;
  }
}

/** A new password breaks a password rule. */
export class WeakPasswordError extends Error {
  /** The rule it breaks, e.g. "password must be at least 10 characters". */
  readonly rule: string;

  /**
   * Describe a rejected password (never quoting it).
   *
   * @param user Whose password it would be.
   * @param rule The rule it breaks (from `passwordProblem`).
   */
  constructor(user: string, rule: string) {
    super(`Cannot set password for "${user}": ${rule}`);
    this.name = "WeakPasswordError";
    this.rule = rule;
  }
}
