/**
 * The input line of a raw-mode terminal, as a state machine: feed it the
 * bytes read from standard input, get back what happened, and ask it for the
 * escape codes that redraw the line. It never touches the terminal itself.
 *
 * Keys understood (readline / Emacs style):
 *
 * | key                                   | does                                 |
 * | ------------------------------------- | ------------------------------------ |
 * | Enter (CR or LF; CRLF counts once)    | submit the line                      |
 * | Backspace, Ctrl-H / Delete, Ctrl-D    | delete before / under the cursor     |
 * | Left, Right, Ctrl-B, Ctrl-F           | move one character                   |
 * | Ctrl-Left, Ctrl-Right, Alt-B, Alt-F   | move one word                        |
 * | Home, End, Ctrl-A, Ctrl-E             | start / end of line                  |
 * | Ctrl-U / Ctrl-K                       | delete to the start / end of line    |
 * | Ctrl-W, Alt-Backspace                 | delete the word before the cursor    |
 * | Up, Down                              | browse input history                 |
 * | Ctrl-R                                | search input history (again: older)  |
 * | Tab                                   | `complete`                           |
 * | Ctrl-L                                | `refresh` (redraw the screen)        |
 * | Ctrl-P, Ctrl-N, Alt-1 .. Alt-9        | `key` (previous / next / Nth room)   |
 * | Ctrl-D on an empty line               | end of input (`eof`)                 |
 * | Ctrl-C                                | `interrupt`                          |
 *
 * Other control characters and unknown escape sequences are ignored, never
 * inserted. Bracketed paste (`ESC [200~` ... `ESC [201~`, enabled by the
 * client with `ESC [?2004h`) of one line is inserted; a paste with line
 * breaks is a `paste` action with the lines, so a paste never submits
 * anything by itself. Focus reports (`ESC [I`, `ESC [O`, enabled with
 * `ESC [?1004h`) are `focus` actions.
 *
 * @module
 */
import { displayWidth, graphemes, graphemeWidth } from "./_display_width.ts";
import { sanitise } from "./sanitise.ts";

/** What feeding bytes to a {@linkcode LineEditor} asks of the client. */
export type EditorAction =
  /** The user pressed Enter; the editor's line is now empty. */
  | { readonly type: "submit"; readonly line: string }
  /** The input line changed: write `render(prompt)` again. */
  | { readonly type: "redraw" }
  /** Ctrl-D on an empty line. */
  | { readonly type: "eof" }
  /** Ctrl-C. */
  | { readonly type: "interrupt" }
  /** Tab: complete the word before the cursor (see {@linkcode LineEditor.replace}). */
  | { readonly type: "complete" }
  /** Ctrl-L: redraw the whole screen. */
  | { readonly type: "refresh" }
  /** A key for the client: `prev-room`, `next-room`, `room-1` .. `room-9`. */
  | { readonly type: "key"; readonly key: string }
  /** A bracketed paste of several lines, not inserted. */
  | { readonly type: "paste"; readonly lines: readonly string[] }
  /** The terminal gained or lost focus. */
  | { readonly type: "focus"; readonly focused: boolean };

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /**
   * How many submitted lines Up/Down can recall.
   *
   * @default {200}
   */
  readonly historySize?: number;
  /**
   * Longest line, in UTF-16 code units; typing past it is ignored. Keep it
   * well above the server's message limit, so an over-long line reaches the
   * client's own check (which says by how much) rather than being cut here.
   *
   * @default {65536}
   */
  readonly maxChars?: number;
  /**
   * Start in password mode; see {@linkcode LineEditor.password}.
   *
   * @default {false}
   */
  readonly password?: boolean;
}

/** Options for {@linkcode LineEditor.render}. */
export interface LineRenderOptions {
  /**
   * Terminal width. When given, a line too long to fit scrolls sideways so
   * the cursor stays on screen and the line never wraps.
   *
   * @default {undefined} (no limit)
   */
  readonly columns?: number;
}

/** Default for {@linkcode LineEditorOptions.historySize}. */
export const DEFAULT_HISTORY_SIZE = 200;
/** Default for {@linkcode LineEditorOptions.maxChars}. */
export const DEFAULT_MAX_CHARS = 65536;
/** Most lines one bracketed paste keeps; the rest are dropped. */
export const MAX_PASTE_LINES = 10_000;
/** Longest escape sequence kept while parsing; longer ones are skipped. */
const MAX_SEQUENCE_CHARS = 32;

const CTRL_A = "\x01";
const CTRL_B = "\x02";
const CTRL_C = "\x03";
const CTRL_D = "\x04";
const CTRL_E = "\x05";
const CTRL_F = "\x06";
const CTRL_H = "\x08";
const CTRL_G = "\x07";
const CTRL_K = "\x0b";
const CTRL_L = "\x0c";
const CTRL_R = "\x12";
const CTRL_N = "\x0e";
const CTRL_P = "\x10";
const CTRL_U = "\x15";
const CTRL_W = "\x17";
const ESC = "\x1b";
const DEL = "\x7f";

type Edit =
  | "left"
  | "right"
  | "wordLeft"
  | "wordRight"
  | "home"
  | "end"
  | "backspace"
  | "delete"
  | "killStart"
  | "killEnd"
  | "killWord"
  | "up"
  | "down";

/** Single control characters that edit the line. */
const CONTROL_KEYS: Readonly<Record<string, Edit>> = {
  [CTRL_A]: "home",
  [CTRL_B]: "left",
  [CTRL_E]: "end",
  [CTRL_F]: "right",
  [CTRL_H]: "backspace",
  [DEL]: "backspace",
  [CTRL_K]: "killEnd",
  [CTRL_U]: "killStart",
  [CTRL_W]: "killWord",
};

/** `ESC [ <params> <final>` and `ESC O <final>` sequences, by params + final. */
const SEQUENCE_KEYS: Readonly<Record<string, Edit>> = {
  "A": "up",
  "B": "down",
  "C": "right",
  "D": "left",
  "H": "home",
  "F": "end",
  "1~": "home",
  "7~": "home",
  "4~": "end",
  "8~": "end",
  "3~": "delete",
  "1;5C": "wordRight",
  "1;5D": "wordLeft",
  "1;3C": "wordRight",
  "1;3D": "wordLeft",
};

/** Control characters that are keys for the client. */
const CLIENT_KEYS: Readonly<Record<string, string>> = {
  [CTRL_N]: "next-room",
  [CTRL_P]: "prev-room",
};

/** `ESC <char>` (Alt/Meta + char). */
const META_KEYS: Readonly<Record<string, Edit>> = {
  "b": "wordLeft",
  "f": "wordRight",
  [DEL]: "killWord",
  [CTRL_H]: "killWord",
};

const PASTE_START = "200~";
const PASTE_END = "201~";

/** Whether a typed character may go into the line: no controls, no invisible characters but joiners. */
function insertable(char: string): boolean {
  return char === "\u200c" || char === "\u200d" || sanitise(char) === char;
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot create line editor: ${name} must be an integer >= ${min}, got ${value}`,
    );
  }
  return value;
}

/**
 * An editable input line with history, fed raw terminal bytes.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineEditor } from "./line_editor.ts";
 *
 * const editor = new LineEditor();
 * const bytes = new TextEncoder().encode("helo\x1b[Dl\r");
 * assert.deepEqual(editor.feed(bytes), [{ type: "submit", line: "hello" }]);
 * ```
 */
export class LineEditor {
  #text = "";
  /** UTF-16 offset into #text, on a grapheme boundary. */
  #cursor = 0;
  #password: boolean;
  readonly #maxChars: number;
  readonly #historySize: number;
  readonly #history: string[] = [];
  /** Index into #history while browsing; #history.length when not. */
  #historyIndex = 0;
  /** The line being edited before browsing started. */
  #draft = "";
  readonly #decoder = new TextDecoder();
  #state: "ground" | "escape" | "csi" | "ss3" = "ground";
  #sequence = "";
  #pasting = false;
  /** The lines of the bracketed paste under way. */
  #paste: string[] = [];
  #afterCr = false;
  /** Ctrl-R search under way: what is searched for and the history index found. */
  #search: { query: string; index: number } | undefined;
  #searchChanged = false;
  /** Actions found while parsing an escape sequence, for {@linkcode feed}. */
  readonly #pendingKeys: EditorAction[] = [];

  /**
   * @param options History size, line length limit, password mode.
   * @throws {RangeError} If `historySize` or `maxChars` is not a valid count.
   */
  constructor(options: LineEditorOptions = {}) {
    this.#historySize = checkCount(
      "historySize",
      options.historySize ?? DEFAULT_HISTORY_SIZE,
      0,
    );
    this.#maxChars = checkCount(
      "maxChars",
      options.maxChars ?? DEFAULT_MAX_CHARS,
      1,
    );
    this.#password = options.password ?? false;
  }

  /** The line as typed so far. */
  get text(): string {
    return this.#text;
  }

  /** The cursor position, in UTF-16 code units from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /**
   * Password mode: the typed text is not shown at all (like `getpass`), and
   * submitted lines are not kept in history. Switching mode clears the line.
   */
  get password(): boolean {
    return this.#password;
  }

  set password(on: boolean) {
    if (on === this.#password) return;
    this.#password = on;
    this.#setLine("");
    this.#historyIndex = this.#history.length;
    this.#draft = "";
  }

  /** Submitted lines Up can recall, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * Processes bytes read from the terminal. UTF-8 characters and escape
   * sequences may be split across calls.
   *
   * @param bytes The bytes read.
   * @returns What happened, in order; at most one `redraw`, last.
   */
  feed(bytes: Uint8Array): EditorAction[] {
    const actions: EditorAction[] = [];
    const before = `${this.#cursor}:${this.#text}`;
    const searching = this.#search !== undefined;
    this.#searchChanged = false;
    for (const char of this.#decoder.decode(bytes, { stream: true })) {
      this.#feedChar(char, actions);
      if (this.#pendingKeys.length > 0) actions.push(...this.#pendingKeys.splice(0));
    }
    if (
      `${this.#cursor}:${this.#text}` !== before || this.#searchChanged ||
      searching !== (this.#search !== undefined)
    ) {
      actions.push({ type: "redraw" });
    }
    return actions;
  }

  /**
   * The escape codes that redraw the input line: go to column 1, clear the
   * line, write the prompt and the text, and put the cursor where it belongs.
   *
   * @param prompt Shown before the text; sanitised, so plain text only.
   * @param options The terminal width, to scroll long lines.
   * @returns A string to write to the terminal.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { LineEditor } from "./line_editor.ts";
   *
   * const editor = new LineEditor();
   * editor.feed(new TextEncoder().encode("hi"));
   * assert.equal(editor.render("> "), "\r\x1b[2K> hi\x1b[5G");
   * ```
   */
  render(prompt: string, options: LineRenderOptions = {}): string {
    const shownPrompt = sanitise(prompt);
    const promptWidth = displayWidth(shownPrompt);
    if (this.#password) {
      return `\r\x1b[2K${shownPrompt}\x1b[${promptWidth + 1}G`;
    }
    if (this.#search !== undefined) {
      const found = this.#history[this.#search.index] ?? "";
      const label = `(reverse-i-search)'${this.#search.query}': `;
      return this.#renderText(label, found, found.length, options);
    }
    return this.#renderText(shownPrompt, this.#text, this.#cursor, options);
  }

  /**
   * The line scrolled so the cursor is on screen: `<` in the first column
   * after the prompt when text is hidden to the left, `>` in the last when
   * text is hidden to the right.
   */
  #renderText(
    prompt: string,
    text: string,
    cursor: number,
    options: LineRenderOptions,
  ): string {
    const promptWidth = displayWidth(prompt);
    const before = graphemes(text.slice(0, cursor));
    const after = graphemes(text.slice(cursor));
    const widthOf = (list: readonly string[]) => list.reduce((sum, g) => sum + graphemeWidth(g), 0);
    const total = widthOf(before) + widthOf(after);
    const room = options.columns === undefined
      ? Infinity
      : Math.max(1, options.columns - promptWidth - 1);
    if (total <= room) {
      return `\r\x1b[2K${prompt}${text}\x1b[${promptWidth + widthOf(before) + 1}G`;
    }
    // Scrolled: one column each side may be taken by a marker.
    let start = 0;
    let width = widthOf(before);
    const leftMarker = () => start > 0 ? 1 : 0;
    while (width + leftMarker() > room && start < before.length) {
      width -= graphemeWidth(before[start++] ?? "");
    }
    const left = start > 0 ? "<" : "";
    const cursorColumn = promptWidth + left.length + width + 1;
    let shown = before.slice(start).join("");
    let used = left.length + width;
    let cut = false;
    for (const [i, g] of after.entries()) {
      const w = graphemeWidth(g);
      const last = i === after.length - 1;
      if (used + w > room - (last ? 0 : 1)) {
        cut = true;
        break;
      }
      shown += g;
      used += w;
    }
    return `\r\x1b[2K${prompt}${left}${shown}${cut ? ">" : ""}\x1b[${cursorColumn}G`;
  }

  /**
   * Replace the line and put the cursor at `cursor` (e.g. after a
   * completion). Characters that could not be typed are dropped.
   *
   * @param text The new line.
   * @param cursor UTF-16 offset of the cursor; clamped to the line.
   */
  replace(text: string, cursor: number = text.length): void {
    const clean = [...text].filter((c) => insertable(c)).join("");
    this.#text = clean.slice(0, this.#maxChars);
    this.#cursor = Math.max(0, Math.min(cursor, this.#text.length));
  }

  #feedChar(char: string, actions: EditorAction[]): void {
    switch (this.#state) {
      case "escape":
        if (this.#feedEscape(char)) return;
        break;
      case "csi":
      case "ss3":
        if (this.#feedSequence(char)) return;
        break;
    }
    this.#feedGround(char, actions);
  }

  #feedGround(char: string, actions: EditorAction[]): void {
    const afterCr = this.#afterCr;
    this.#afterCr = char === "\r";
    if (char === ESC) {
      this.#state = "escape";
      return;
    }
    if (this.#pasting) {
      if (char === "\n" && afterCr) return;
      if (char === "\r" || char === "\n") {
        if (this.#paste.length < MAX_PASTE_LINES) this.#paste.push("");
      } else if (char === "\t") this.#paste[this.#paste.length - 1] += " ";
      else if (insertable(char)) this.#paste[this.#paste.length - 1] += char;
      return;
    }
    if (this.#search !== undefined && this.#feedSearch(char, actions)) return;
    if (char === "\r" || char === "\n" || char === "\t") {
      if (char === "\n" && afterCr) return;
      if (char === "\t") actions.push({ type: "complete" });
      else this.#submit(actions);
      return;
    }
    const clientKey = CLIENT_KEYS[char];
    if (clientKey !== undefined) actions.push({ type: "key", key: clientKey });
    else if (char === CTRL_L) actions.push({ type: "refresh" });
    else if (char === CTRL_R) this.#startSearch();
    else if (char === CTRL_C) actions.push({ type: "interrupt" });
    else if (char === CTRL_D && this.#text === "") {
      actions.push({ type: "eof" });
    } else if (char === CTRL_D) this.#edit("delete");
    else {
      const edit = CONTROL_KEYS[char];
      if (edit === undefined) this.#insert(char);
      else this.#edit(edit);
    }
  }

  /** After ESC; returns false for a control character that ends it. */
  #feedEscape(char: string): boolean {
    this.#state = "ground";
    const edit = META_KEYS[char];
    if (this.#search !== undefined && char !== "[" && char !== "O") this.#search = undefined;
    if (char === "[") this.#startSequence("csi");
    else if (char === "O") this.#startSequence("ss3");
    else if (char >= "1" && char <= "9") {
      if (!this.#pasting) this.#pendingKeys.push({ type: "key", key: `room-${char}` });
    } else if (edit !== undefined) {
      if (!this.#pasting) this.#edit(edit);
    } else if (char < " ") return false;
    return true;
  }

  #startSequence(state: "csi" | "ss3"): void {
    this.#state = state;
    this.#sequence = "";
  }

  /** Inside `ESC [` or `ESC O`; returns false for a control character that ends it. */
  #feedSequence(char: string): boolean {
    const code = char.charCodeAt(0);
    if (code < 0x20) {
      this.#state = "ground";
      return false;
    }
    if (this.#state === "csi" && code <= 0x3f) {
      if (this.#sequence.length < MAX_SEQUENCE_CHARS) this.#sequence += char;
      else this.#sequence = "\0"; // too long: matches no key
      return true;
    }
    const csi = this.#state === "csi";
    this.#state = "ground";
    if (code > 0x7e) return true; // malformed: drop it
    const key = this.#sequence + char;
    if (key === PASTE_START) {
      this.#pasting = true;
      this.#paste = [""];
    } else if (key === PASTE_END) this.#endPaste();
    else if (csi && (key === "I" || key === "O") && !this.#pasting) {
      this.#pendingKeys.push({ type: "focus", focused: key === "I" });
    } else {
      const edit = SEQUENCE_KEYS[key];
      if (edit !== undefined && !this.#pasting) {
        if (this.#search !== undefined) this.#acceptSearch();
        this.#edit(edit);
      }
    }
    return true;
  }

  /** A paste ended: one line is inserted, several are a `paste` action. */
  #endPaste(): void {
    this.#pasting = false;
    const lines = this.#paste;
    this.#paste = [];
    while (lines.length > 1 && lines.at(-1) === "") lines.pop();
    if (lines.length <= 1) {
      for (const char of lines[0] ?? "") this.#insert(char);
      return;
    }
    this.#pendingKeys.push({ type: "paste", lines });
  }

  #startSearch(): void {
    if (this.#password) return;
    if (this.#search === undefined) {
      this.#search = { query: "", index: this.#history.length };
      return;
    }
    // Ctrl-R again: the next older match.
    const older = this.#find(this.#search.query, this.#search.index - 1);
    if (older !== undefined) this.#search.index = older;
  }

  /** The newest history index at or before `from` that contains `query`. */
  #find(query: string, from: number): number | undefined {
    for (let i = Math.min(from, this.#history.length - 1); i >= 0; i--) {
      if ((this.#history[i] ?? "").includes(query)) return i;
    }
    return undefined;
  }

  /** Put the found line in the editor and leave search. */
  #acceptSearch(): void {
    const search = this.#search;
    this.#search = undefined;
    if (search === undefined) return;
    const found = this.#history[search.index];
    if (found !== undefined) this.#setLine(found);
    this.#historyIndex = this.#history.length;
  }

  /** A character during Ctrl-R search; false when it is to be handled as usual. */
  #feedSearch(char: string, actions: EditorAction[]): boolean {
    const search = this.#search;
    if (search === undefined) return false;
    if (char === CTRL_R) return this.#startSearch(), true;
    if (char === CTRL_G || char === CTRL_C) {
      this.#search = undefined;
      this.#searchChanged = true;
      return true;
    }
    if (char === DEL || char === CTRL_H) {
      search.query = search.query.slice(0, -1);
      search.index = this.#find(search.query, this.#history.length - 1) ?? this.#history.length;
      this.#searchChanged = true;
      return true;
    }
    if (char >= " " && insertable(char)) {
      search.query += char;
      const found = this.#find(search.query, search.index);
      if (found !== undefined) search.index = found;
      this.#searchChanged = true;
      return true;
    }
    this.#acceptSearch();
    this.#searchChanged = true;
    if (char === "\r" || char === "\n") {
      this.#submit(actions);
      return true;
    }
    return false;
  }

  #insert(char: string): void {
    if (!insertable(char)) return; // controls, invisible format characters
    if (this.#text.length + char.length > this.#maxChars) return;
    this.#text = this.#text.slice(0, this.#cursor) + char +
      this.#text.slice(this.#cursor);
    this.#cursor += char.length;
  }

  #submit(actions: EditorAction[]): void {
    const line = this.#text;
    if (!this.#password) this.#remember(line);
    this.#setLine("");
    this.#historyIndex = this.#history.length;
    this.#draft = "";
    actions.push({ type: "submit", line });
  }

  #remember(line: string): void {
    if (line.trim() === "" || this.#historySize === 0) return;
    if (this.#history.at(-1) === line) return;
    this.#history.push(line);
    if (this.#history.length > this.#historySize) this.#history.shift();
  }

  #setLine(text: string): void {
    this.#text = text;
    this.#cursor = text.length;
  }

  /** The grapheme boundary before (-1) or after (+1) the cursor. */
  #step(direction: -1 | 1): number {
    const boundaries = [0];
    for (const g of graphemes(this.#text)) {
      boundaries.push((boundaries.at(-1) ?? 0) + g.length);
    }
    if (direction === 1) {
      return boundaries.find((b) => b > this.#cursor) ?? this.#text.length;
    }
    return boundaries.findLast((b) => b < this.#cursor) ?? 0;
  }

  /** The start of the word before the cursor (unix-word-rubout). */
  #wordStart(): number {
    let i = this.#cursor;
    while (i > 0 && /\s/.test(this.#text[i - 1] ?? "")) i--;
    while (i > 0 && !/\s/.test(this.#text[i - 1] ?? "")) i--;
    return i;
  }

  /** The end of the word after the cursor. */
  #wordEnd(): number {
    let i = this.#cursor;
    while (i < this.#text.length && /\s/.test(this.#text[i] ?? "")) i++;
    while (i < this.#text.length && !/\s/.test(this.#text[i] ?? "")) i++;
    return i;
  }

  #delete(from: number, to: number): void {
    this.#text = this.#text.slice(0, from) + this.#text.slice(to);
    this.#cursor = from;
  }

  #edit(edit: Edit): void {
    const end = this.#text.length;
    switch (edit) {
      case "left":
        this.#cursor = this.#step(-1);
        return;
      case "right":
        this.#cursor = this.#step(1);
        return;
      case "wordLeft":
        this.#cursor = this.#wordStart();
        return;
      case "wordRight":
        this.#cursor = this.#wordEnd();
        return;
      case "home":
        this.#cursor = 0;
        return;
      case "end":
        this.#cursor = end;
        return;
      case "backspace":
        return this.#delete(this.#step(-1), this.#cursor);
      case "delete":
        return this.#delete(this.#cursor, this.#step(1));
      case "killStart":
        return this.#delete(0, this.#cursor);
      case "killEnd":
        return this.#delete(this.#cursor, end);
      case "killWord":
        return this.#delete(this.#wordStart(), this.#cursor);
      case "up":
      case "down":
        return this.#browse(edit === "up" ? -1 : 1);
    }
  }

  #browse(direction: -1 | 1): void {
    if (this.#password) return;
    const index = this.#historyIndex + direction;
    if (index < 0 || index > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.#text;
    this.#historyIndex = index;
    this.#setLine(this.#history[index] ?? this.#draft);
  }
}
