/**
 * Owns what is written to the terminal, so that incoming lines never
 * clobber what the user is typing: each print clears the input line, writes
 * the new lines above it and redraws the prompt with the input below them,
 * in one write.
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
}

/** Return to column 1 and clear the line. */
const CLEAR_LINE = "\r\x1b[2K";

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
  readonly #encoder = new TextEncoder();
  #prompt: string;
  #input: InputLine | undefined;

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
  }

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
    const columns = this.#columns?.();
    const shown = columns === undefined
      ? lines
      : lines.flatMap((line) => wrapLine(line, { columns }));
    this.#send(CLEAR_LINE + shown.join("\r\n") + "\r\n" + this.#renderInput());
  }

  /**
   * Changes the prompt and redraws the input line.
   *
   * @param prompt Plain text shown before the input.
   */
  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    if (this.#interactive) this.#send(this.#renderInput());
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
    if (this.#interactive) this.#send(CLEAR_LINE);
  }

  #renderInput(): string {
    const width = this.#columns?.();
    const options: LineRenderOptions = width === undefined ? {} : { columns: width };
    return this.#input?.render(this.#prompt, options) ??
      CLEAR_LINE + sanitise(this.#prompt);
  }

  #send(text: string): void {
    this.#write(this.#encoder.encode(text));
  }
}
