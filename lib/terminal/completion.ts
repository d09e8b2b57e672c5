/**
 * Tab completion of the word before the cursor, cycling on repeated Tab:
 * `/commands` as the first word, `#rooms`, and nicks (with `: ` after a
 * nick at the start of the line, as IRC clients do).
 *
 * @module
 */

/**
 * The server's chat commands as of today, without the slash: what Tab
 * completes before a `/help` answer tells more. The operator console leaves
 * out `quit` (it ends with `end`).
 */
export const KNOWN_COMMANDS: readonly string[] = [
  "help",
  "who",
  "rooms",
  "join",
  "msg",
  "me",
  "joke",
  "quit",
  "kick",
  "ban",
  "unban",
  "broadcast",
  "shutdown",
];

/** What may be completed. */
export interface CompletionCandidates {
  /** Nicks in the current room. */
  readonly nicks: readonly string[];
  /** Command names without the slash. */
  readonly commands: readonly string[];
  /** Room names without the `#`. */
  readonly rooms: readonly string[];
}

/** A line and its cursor (UTF-16 offset). */
export interface EditedLine {
  readonly text: string;
  readonly cursor: number;
}

interface Cycle {
  readonly before: string;
  readonly after: string;
  readonly matches: readonly string[];
  index: number;
  /** The line as the last completion left it. */
  last: EditedLine;
}

/**
 * Completes words; remembers the last completion so that Tab again, on the
 * line it left, offers the next match.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { Completer } from "./completion.ts";
 *
 * const completer = new Completer();
 * const candidates = { nicks: ["alice", "alan"], commands: ["join"], rooms: ["dev"] };
 * const first = completer.complete({ text: "al", cursor: 2 }, candidates);
 * assert.equal(first?.text, "alan: ");
 * assert.equal(completer.complete(first!, candidates)?.text, "alice: ");
 * ```
 */
export class Completer {
  #cycle: Cycle | undefined;

  /**
   * Complete the word before the cursor, or the next match when `line` is
   * what the last completion gave.
   *
   * @param line The line and cursor.
   * @param candidates What may be completed.
   * @returns The completed line, or undefined when nothing matches.
   */
  complete(line: EditedLine, candidates: CompletionCandidates): EditedLine | undefined {
    const cycle = this.#cycle;
    if (
      cycle !== undefined && cycle.last.text === line.text && cycle.last.cursor === line.cursor
    ) {
      cycle.index = (cycle.index + 1) % cycle.matches.length;
      return this.#apply(cycle);
    }
    this.#cycle = undefined;
    const before = line.text.slice(0, line.cursor);
    // The completion ends with a space: one already after the cursor is not doubled.
    const after = line.text.slice(line.cursor).replace(/^ /, "");
    const wordStart = before.search(/\S*$/);
    const word = before.slice(wordStart);
    const head = before.slice(0, wordStart);
    const atStart = head.trim() === "";
    let matches: string[];
    if (word.startsWith("/") && atStart) {
      matches = prefixed(candidates.commands, word.slice(1)).map((c) => `/${c} `);
    } else if (word.startsWith("#")) {
      matches = prefixed(candidates.rooms, word.slice(1)).map((r) => `#${r} `);
    } else if (word !== "") {
      const suffix = atStart ? ": " : " ";
      matches = prefixed(candidates.nicks, word).map((n) => n + suffix);
    } else return undefined;
    if (matches.length === 0) return undefined;
    const next: Cycle = { before: head, after, matches, index: 0, last: line };
    this.#cycle = next;
    return this.#apply(next);
  }

  #apply(cycle: Cycle): EditedLine {
    const match = cycle.matches[cycle.index] ?? "";
    const text = cycle.before + match + cycle.after;
    cycle.last = { text, cursor: cycle.before.length + match.length };
    return cycle.last;
  }
}

/** Names starting with `prefix` (any case), sorted, without duplicates. */
function prefixed(names: readonly string[], prefix: string): string[] {
  const lower = prefix.toLowerCase();
  return [...new Set(names)].filter((n) => n.toLowerCase().startsWith(lower)).sort();
}
