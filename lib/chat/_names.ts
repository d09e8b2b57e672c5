/**
 * How the chat compares user names: case-insensitively, ASCII only, the same
 * rule as SQLite's `NOCASE` so the hub and the history store agree.
 *
 * @module
 */

/**
 * The key a user name is compared by.
 *
 * @param name A user name as typed.
 * @returns The name with ASCII letters lowercased.
 */
export function foldName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
