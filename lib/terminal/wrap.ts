/**
 * Wraps a screen line to the terminal's width before the terminal does,
 * with a hanging indent: continuation rows start under the message text,
 * never in column 1. Left to the terminal, a message padded with spaces to
 * the width would wrap so that its tail started in column 1 and looked like
 * a line of its own (`[07:19] <root> ...`).
 *
 * Breaks at spaces where it can (a run of spaces at a break is dropped, so
 * padding never carries over), else between grapheme clusters; widths come
 * from {@linkcode displayWidth}. SGR colour codes (`ESC [ ... m`, the only
 * escapes in a rendered line) take no columns and are kept.
 *
 * @module
 */
import { graphemes, graphemeWidth } from "./_display_width.ts";

/** Narrower terminals are wrapped as if they were this wide. */
export const MIN_WRAP_COLUMNS = 8;

/** The indent of continuation rows when the text starts too far right. */
export const FIXED_INDENT = 4;

/** Options for {@linkcode wrapLine}. */
export interface WrapOptions {
  /** The terminal's width in columns. */
  readonly columns: number;
  /**
   * Spaces before each continuation row; see {@linkcode hangingIndent}.
   *
   * @default {FIXED_INDENT}
   */
  readonly indent?: number;
}

// SGR sequences, and everything else one grapheme cluster at a time.
// deno-lint-ignore no-control-regex -- ESC starts the colour codes kept
const SGR = /\x1b\[[0-9;]*m/y;

interface Piece {
  readonly text: string;
  readonly width: number;
  readonly kind: "sgr" | "space" | "text";
}

function pieces(line: string): Piece[] {
  const out: Piece[] = [];
  let plain = "";
  const flush = () => {
    for (const g of graphemes(plain)) {
      out.push({ text: g, width: graphemeWidth(g), kind: g === " " ? "space" : "text" });
    }
    plain = "";
  };
  for (let at = 0; at < line.length;) {
    SGR.lastIndex = at;
    const match = SGR.exec(line);
    if (match) {
      flush();
      out.push({ text: match[0], width: 0, kind: "sgr" });
      at = SGR.lastIndex;
    } else {
      plain += line[at];
      at++;
    }
  }
  flush();
  return out;
}

/**
 * The indent for continuation rows of a line whose text starts at column
 * `textColumn` (0-based): right under the text, or {@linkcode FIXED_INDENT}
 * when that is more than half the width; always at least 1.
 *
 * @param textColumn Columns taken before the text (`[14:02] <alice> ` is 16).
 * @param columns The terminal's width.
 * @returns Spaces to put before each continuation row.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { hangingIndent } from "./wrap.ts";
 *
 * assert.equal(hangingIndent(16, 80), 16);
 * assert.equal(hangingIndent(50, 80), 4);
 * ```
 */
export function hangingIndent(textColumn: number, columns: number): number {
  const half = Math.floor(Math.max(columns, MIN_WRAP_COLUMNS) / 2);
  return Math.max(1, textColumn <= half ? textColumn : Math.min(FIXED_INDENT, half));
}

/**
 * Splits a line into rows that each fit `columns`; every row after the
 * first starts with `indent` spaces.
 *
 * @param line One screen line: sanitised text, possibly with SGR codes.
 * @param options The width and the indent.
 * @returns The rows, without terminators; `[line]` when it fits.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { wrapLine } from "./wrap.ts";
 *
 * assert.deepEqual(
 *   wrapLine("[09:00] <bob> one two three", { columns: 20, indent: 14 }),
 *   ["[09:00] <bob> one", "              two", "              three"],
 * );
 * ```
 */
export function wrapLine(line: string, options: WrapOptions): string[] {
  const columns = Math.max(options.columns, MIN_WRAP_COLUMNS);
  const indent = Math.min(Math.max(options.indent ?? FIXED_INDENT, 1), columns - 1);
  const all = pieces(line);
  if (all.reduce((sum, p) => sum + p.width, 0) <= columns) return [line];
  const pad = " ".repeat(indent);
  const rows: string[] = [];
  let row: Piece[] = [];
  let used = 0;
  const widthOf = (list: readonly Piece[]) => list.reduce((sum, p) => sum + p.width, 0);
  const hasContent = (list: readonly Piece[]) => list.some((p) => p.kind !== "sgr");
  const emit = (list: readonly Piece[]) => {
    // Spaces at the end of a row are padding too: dropped, colour codes kept.
    const lastText = list.findLastIndex(isText);
    const kept = list.filter((p, i) => i < lastText || p.kind !== "space");
    rows.push((rows.length === 0 ? "" : pad) + kept.map((p) => p.text).join(""));
  };
  const startRow = (carried: Piece[]) => {
    // Spaces at the start of a continuation row are padding: dropped.
    row = carried.filter((p, i) => p.kind !== "space" || carried.slice(0, i).some(isText));
    used = indent + widthOf(row);
  };
  for (const piece of all) {
    if (piece.kind === "sgr") {
      row.push(piece);
      continue;
    }
    if (piece.kind === "space" && rows.length > 0 && !row.some(isText)) continue;
    if (used + piece.width > columns && hasContent(row)) {
      if (piece.kind === "space") {
        emit(row);
        startRow([]);
        continue;
      }
      // Break at the last space when it lies in the text (not in the line's
      // prefix) and the word after it fits a continuation row; else here.
      const lastSpace = row.findLastIndex((p) => p.kind === "space");
      const before = row.slice(0, lastSpace);
      const inText = rows.length > 0 || widthOf(before) >= indent;
      const breakable = lastSpace > 0 && before.some(isText) && inText &&
        indent + widthOf(row.slice(lastSpace + 1)) + piece.width <= columns;
      if (breakable) {
        emit(row.slice(0, lastSpace));
        startRow(row.slice(lastSpace + 1));
      } else {
        emit(row);
        startRow([]);
      }
    }
    row.push(piece);
    used += piece.width;
  }
  if (hasContent(row)) emit(row);
  else rows[rows.length - 1] += row.map((p) => p.text).join(""); // closing colour codes
  return rows;
}

function isText(piece: Piece): boolean {
  return piece.kind === "text";
}
