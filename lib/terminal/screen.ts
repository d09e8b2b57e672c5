/**
 * Owns what is written to the terminal, so that incoming lines never
 * clobber what the user is typing: each print clears the input line (and
 * the status line above it, when there is one), writes the new lines above
 * them and redraws the status line, the prompt and the input below them, in
 * one write whose size is bounded by the new lines plus two rows.
 *
 * @module
 */
import type { LineRenderOptions } from "./line_editor.ts";
import { sanitise } from "./sanitise.ts";
import { wrapLine } from "./wrap.ts";

/** The input line as the screen redraws it; {@linkcode LineEditor} is one. */
export interface InputLine {
  /** Escape codes that redraw the whole input line, prompt included. */
  render(prompt: string, options?: LineRenderOptions): string;
}

/** Options for {@linkcode Screen}. */
export interface ScreenOptions {
  /**
   * A terminal in raw mode with an input line. When false (output piped or
   * scripted), lines are written as plain `\n`-terminated text and the
   * prompt and input are never drawn.
   */
  readonly interactive: boolean;
  /**
   * The prompt shown before the input.
   *
   * @default {""}
   */
  readonly prompt?: string;
  /**
   * The terminal's current width (undefined when unknown), so that a long
   * input line scrolls rather than wraps, and a printed line wider than the
   * terminal is wrapped here with an indent (see {@linkcode wrapLine})
   * rather than by the terminal into column 1.
   *
   * @default {undefined} (no limit)
   */
  readonly columns?: () => number | undefined;
  /**
   * The status line drawn above the input line (plain text, cut to the
   * width), or undefined for none. Read at every redraw.
   *
   * @default {undefined} (no status line)
   */
  readonly status?: (columns: number | undefined) => string | undefined;
  /**
   * The terminal's height, for {@linkcode Screen.refresh}.
   *
   * @default {() => 24}
   */
  readonly rows?: () => number;
}

/** Most printed rows kept for {@linkcode Screen.refresh}. */
export const MAX_KEPT_ROWS = 500;

/** Return to column 1 and clear the line. */
const CLEAR_LINE = "\r\x1b[2K";
/** Up one row to column 1, and clear from there to the end of the screen. */
const CLEAR_STATUS_AND_INPUT = "\r\x1b[1A\x1b[J";

/**
 * The client's terminal output.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineEditor } from "./line_editor.ts";
 * import { Screen } from "./screen.ts";
 *
 * const written: string[] = [];
 * const screen = new Screen((bytes) => written.push(new TextDecoder().decode(bytes)), {
 *   interactive: true,
 *   prompt: "> ",
 * });
 * const editor = new LineEditor();
 * editor.feed(new TextEncoder().encode("hi"));
 * screen.updateInput(editor);
 * screen.print(["<bob> hello"]);
 * assert.equal(written.at(-1), "\r\x1b[2K<bob> hello\r\n\r\x1b[2K> hi\x1b[5G");
 * ```
 */
export class Screen {
  readonly #write: (bytes: Uint8Array) => void;
  readonly #interactive: boolean;
  readonly #columns: (() => number | undefined) | undefined;
  readonly #status: ScreenOptions["status"];
  readonly #rows: () => number;
  readonly #encoder = new TextEncoder();
  #prompt: string;
  #input: InputLine | undefined;
  /** Whether a status row is on screen above the input row. */
  #statusShown = false;
  /** The last lines printed, unwrapped, for refresh. */
  readonly #kept: string[] = [];

  /**
   * @param write Where bytes go, e.g. standard output. Called once per
   * print or redraw.
   * @param options Interactive or scripted, prompt, terminal width.
   */
  constructor(write: (bytes: Uint8Array) => void, options: ScreenOptions) {
    this.#write = write;
    this.#interactive = options.interactive;
    this.#prompt = options.prompt ?? "";
    this.#columns = options.columns;
    this.#status = options.status;
    this.#rows = options.rows ?? (() => 24);
  }

  /** The bytes of the last write, for measuring what a redraw costs. */
  lastWriteBytes = 0;

  /**
   * Shows lines above the input line. Lines are written as given: render
   * them with {@linkcode renderEvent} (or sanitise them) first. On a
   * terminal of known width, a line still wider than it is wrapped with
   * the fixed indent.
   *
   * @param lines Lines without terminators.
   */
  print(lines: readonly string[]): void {
    if (lines.length === 0) return;
    if (!this.#interactive) {
      this.#send(lines.join("\n") + "\n");
      return;
    }
    this.#kept.push(...lines);
    if (this.#kept.length > MAX_KEPT_ROWS) this.#kept.splice(0, this.#kept.length - MAX_KEPT_ROWS);
    this.#send(
      this.#clearBottom() + this.#wrap(lines).join("\r\n") + "\r\n" + this.#renderBottom(),
    );
  }

  /**
   * Redraws the status and input lines, e.g. after the terminal was
   * resized or the state they show changed. Nothing above them changes.
   */
  redraw(): void {
    if (this.#interactive) this.#send(this.#clearStatus() + this.#renderBottom());
  }

  /**
   * Clears the screen and draws it again: the last lines printed that fit,
   * the status line and the input line (Ctrl-L).
   */
  refresh(): void {
    if (!this.#interactive) return;
    const height = Math.max(1, this.#rows() - (this.#status ? 2 : 1));
    const rows = this.#wrap(this.#kept).slice(-height);
    const body = rows.length > 0 ? rows.join("\r\n") + "\r\n" : "";
    this.#statusShown = false;
    this.#send("\x1b[H\x1b[2J" + body + this.#renderBottom());
  }

  /**
   * Changes the prompt and redraws the input line.
   *
   * @param prompt Plain text shown before the input.
   */
  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    if (this.#interactive) this.#send(this.#clearStatus() + this.#renderBottom());
  }

  /**
   * Redraws the input line from `input`, and remembers it for later prints.
   *
   * @param input The line editor.
   */
  updateInput(input: InputLine): void {
    this.#input = input;
    if (this.#interactive) this.#send(this.#renderInput());
  }

  /**
   * Clears the input line, leaving the cursor in column 1: call before
   * exiting so the shell prompt starts on a clean line.
   */
  clearInput(): void {
    if (!this.#interactive) return;
    this.#send(this.#clearBottom());
    this.#statusShown = false;
  }

  #wrap(lines: readonly string[]): readonly string[] {
    const columns = this.#columns?.();
    return columns === undefined ? lines : lines.flatMap((line) => wrapLine(line, { columns }));
  }

  /** Go to the start of the status row (or the input row) and clear below. */
  #clearBottom(): string {
    return this.#statusShown ? CLEAR_STATUS_AND_INPUT : CLEAR_LINE;
  }

  /** Go to the start of the status row, when there is one, and clear below. */
  #clearStatus(): string {
    return this.#statusShown ? CLEAR_STATUS_AND_INPUT : "";
  }

  /** The status row (when there is one) and the input row. */
  #renderBottom(): string {
    const status = this.#status?.(this.#columns?.());
    this.#statusShown = status !== undefined;
    const statusRow = status === undefined ? "" : CLEAR_LINE + sanitise(status) + "\r\n";
    return statusRow + this.#renderInput();
  }

  #renderInput(): string {
    const width = this.#columns?.();
    const options: LineRenderOptions = width === undefined ? {} : { columns: width };
    return this.#input?.render(this.#prompt, options) ??
      CLEAR_LINE + sanitise(this.#prompt);
  }

  #send(text: string): void {
    const bytes = this.#encoder.encode(text);
    this.lastWriteBytes = bytes.length;
    this.#write(bytes);
  }
}
