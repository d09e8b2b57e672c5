import assert from "node:assert/strict";
import { type EditorAction, LineEditor } from "../../lib/terminal/line_editor.ts";

const encoder = new TextEncoder();

/** Feeds each chunk in its own call; returns all actions. */
function type(editor: LineEditor, ...chunks: string[]): EditorAction[] {
  return chunks.flatMap((chunk) => editor.feed(encoder.encode(chunk)));
}

function submits(actions: EditorAction[]): string[] {
  return actions.flatMap((a) => a.type === "submit" ? [a.line] : []);
}

const LEFT = "\x1b[D";
const RIGHT = "\x1b[C";
const UP = "\x1b[A";
const DOWN = "\x1b[B";
const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

Deno.test("LineEditor submits the typed line on Enter and starts empty again", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "hello\r"), [{
    type: "submit",
    line: "hello",
  }]);
  assert.equal(editor.text, "");
  assert.equal(editor.cursor, 0);
});

Deno.test("LineEditor treats CRLF as one Enter and LF alone as Enter", () => {
  const editor = new LineEditor();
  assert.deepEqual(submits(type(editor, "a\r\nb\n", "c\r", "\nd\r")), [
    "a",
    "b",
    "c",
    "d",
  ]);
});

Deno.test("LineEditor asks for one redraw, last, when the line changed", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "abc"), [{ type: "redraw" }]);
  assert.deepEqual(type(editor, "\rxy"), [
    { type: "submit", line: "abc" },
    { type: "redraw" },
  ]);
});

Deno.test("LineEditor asks for no redraw when nothing changed", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, LEFT, "\x1b[15~"), []);
});

Deno.test("LineEditor decodes UTF-8 split across reads", () => {
  const editor = new LineEditor();
  const bytes = encoder.encode("é😀");
  for (const byte of bytes) editor.feed(Uint8Array.of(byte));
  assert.equal(editor.text, "é😀");
});

Deno.test("LineEditor decodes escape sequences split across reads", () => {
  const editor = new LineEditor();
  type(editor, "ab", "\x1b", "[", "D", "X");
  assert.equal(editor.text, "aXb");
});

Deno.test("LineEditor Backspace deletes the character before the cursor", () => {
  const editor = new LineEditor();
  type(editor, "abc", LEFT, "\x7f");
  assert.equal(editor.text, "ac");
  type(editor, "\b");
  assert.equal(editor.text, "c");
  type(editor, "\x7f");
  assert.equal(editor.text, "c");
});

Deno.test("LineEditor Backspace deletes a whole emoji or accented letter", () => {
  const editor = new LineEditor();
  type(editor, "a😀e\u0301\x7f");
  assert.equal(editor.text, "a😀");
  type(editor, "\x7f");
  assert.equal(editor.text, "a");
});

Deno.test("LineEditor Delete and Ctrl-D delete the character under the cursor", () => {
  const editor = new LineEditor();
  type(editor, "abcd", "\x01", "\x1b[3~");
  assert.equal(editor.text, "bcd");
  assert.deepEqual(type(editor, "\x04"), [{ type: "redraw" }]);
  assert.equal(editor.text, "cd");
});

Deno.test("LineEditor moves with Left, Right, Ctrl-B and Ctrl-F", () => {
  const editor = new LineEditor();
  type(editor, "ac", LEFT, "b", "\x02", "_", "\x06", RIGHT, RIGHT, "!");
  assert.equal(editor.text, "a_bc!");
});

Deno.test("LineEditor moves over a surrogate pair as one character", () => {
  const editor = new LineEditor();
  type(editor, "😀", LEFT);
  assert.equal(editor.cursor, 0);
  type(editor, RIGHT);
  assert.equal(editor.cursor, 2);
});

Deno.test("LineEditor Home and End work in every common encoding", () => {
  const editor = new LineEditor();
  type(editor, "mid");
  for (
    const [home, end] of [
      ["\x1b[H", "\x1b[F"],
      ["\x1bOH", "\x1bOF"],
      ["\x1b[1~", "\x1b[4~"],
      ["\x1b[7~", "\x1b[8~"],
      ["\x01", "\x05"],
    ] as const
  ) {
    type(editor, home);
    assert.equal(editor.cursor, 0, JSON.stringify(home));
    type(editor, end);
    assert.equal(editor.cursor, 3, JSON.stringify(end));
  }
});

Deno.test("LineEditor Ctrl-U deletes to the start of the line", () => {
  const editor = new LineEditor();
  type(editor, "hello world", LEFT, LEFT, "\x15");
  assert.equal(editor.text, "ld");
  assert.equal(editor.cursor, 0);
});

Deno.test("LineEditor Ctrl-K deletes to the end of the line", () => {
  const editor = new LineEditor();
  type(editor, "hello world", "\x01", RIGHT, "\x0b");
  assert.equal(editor.text, "h");
});

Deno.test("LineEditor Ctrl-W deletes the word before the cursor", () => {
  const editor = new LineEditor();
  type(editor, "say hello  there  ", "\x17");
  assert.equal(editor.text, "say hello  ");
  type(editor, "\x17");
  assert.equal(editor.text, "say ");
});

Deno.test("LineEditor Alt-Backspace deletes the word before the cursor", () => {
  const editor = new LineEditor();
  type(editor, "one two", "\x1b\x7f");
  assert.equal(editor.text, "one ");
});

Deno.test("LineEditor moves by word with Ctrl-Left/Right and Alt-B/F", () => {
  const editor = new LineEditor();
  type(editor, "one two three", "\x1b[1;5D");
  assert.equal(editor.cursor, 8);
  type(editor, "\x1bb");
  assert.equal(editor.cursor, 4);
  type(editor, "\x1b[1;5C");
  assert.equal(editor.cursor, 7);
  type(editor, "\x1bf");
  assert.equal(editor.cursor, 13);
});

Deno.test("LineEditor reports eof for Ctrl-D on an empty line", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "\x04"), [{ type: "eof" }]);
});

Deno.test("LineEditor reports interrupt for Ctrl-C and keeps the line", () => {
  const editor = new LineEditor();
  type(editor, "draft");
  assert.deepEqual(type(editor, "\x03"), [{ type: "interrupt" }]);
  assert.equal(editor.text, "draft");
});

Deno.test("LineEditor Ctrl-C still interrupts right after ESC or inside a sequence", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "\x1b\x03"), [{ type: "interrupt" }]);
  assert.deepEqual(type(editor, "\x1b[1;\x03"), [{ type: "interrupt" }]);
  assert.deepEqual(type(editor, "x"), [{ type: "redraw" }]);
});

Deno.test("LineEditor ignores unknown escape sequences instead of inserting them", () => {
  const editor = new LineEditor();
  type(
    editor,
    "a",
    "\x1b[15~",
    "\x1bOP",
    "\x1b[1;2P",
    "\x1b[?1;2c",
    "\x1bx",
    "\x1b[<0;10;5M",
    "b",
  );
  assert.equal(editor.text, "ab");
});

Deno.test("LineEditor ignores an overlong escape sequence and types what follows", () => {
  const editor = new LineEditor();
  type(editor, "\x1b[" + "1;".repeat(100) + "D", "ok");
  assert.equal(editor.text, "ok");
});

Deno.test("LineEditor does not insert control or invisible characters", () => {
  const editor = new LineEditor();
  type(editor, "a\x00\x07\t\x0c\u0085\u202e\u200bb");
  assert.equal(editor.text, "ab");
});

Deno.test("LineEditor stops accepting text at maxChars", () => {
  const editor = new LineEditor({ maxChars: 5 });
  type(editor, "abcdefg");
  assert.equal(editor.text, "abcde");
});

Deno.test("LineEditor Up and Down browse history, newest first", () => {
  const editor = new LineEditor();
  type(editor, "first\r", "second\r");
  type(editor, UP);
  assert.equal(editor.text, "second");
  type(editor, UP);
  assert.equal(editor.text, "first");
  type(editor, UP);
  assert.equal(editor.text, "first");
  type(editor, DOWN);
  assert.equal(editor.text, "second");
  assert.equal(editor.cursor, "second".length);
});

Deno.test("LineEditor restores the line being typed after browsing history", () => {
  const editor = new LineEditor();
  type(editor, "old\r", "half typed", UP);
  assert.equal(editor.text, "old");
  type(editor, DOWN);
  assert.equal(editor.text, "half typed");
});

Deno.test("LineEditor submits an edited history entry without changing the entry", () => {
  const editor = new LineEditor();
  type(editor, "hello\r");
  assert.deepEqual(submits(type(editor, UP, "!\r")), ["hello!"]);
  assert.deepEqual(editor.history, ["hello", "hello!"]);
});

Deno.test("LineEditor keeps no consecutive duplicates or blank lines in history", () => {
  const editor = new LineEditor();
  type(editor, "a\r", "a\r", "\r", "  \r", "b\r", "a\r");
  assert.deepEqual(editor.history, ["a", "b", "a"]);
});

Deno.test("LineEditor keeps at most historySize lines", () => {
  const editor = new LineEditor({ historySize: 3 });
  type(editor, "1\r2\r3\r4\r5\r");
  assert.deepEqual(editor.history, ["3", "4", "5"]);
});

Deno.test("LineEditor keeps 200 history lines by default", () => {
  const editor = new LineEditor();
  for (let i = 0; i < 250; i++) type(editor, `line ${i}\r`);
  assert.equal(editor.history.length, 200);
  assert.equal(editor.history[0], "line 50");
});

Deno.test("LineEditor rejects invalid options with RangeError", () => {
  assert.throws(() => new LineEditor({ historySize: -1 }), RangeError);
  assert.throws(() => new LineEditor({ maxChars: 0 }), RangeError);
  assert.throws(() => new LineEditor({ maxChars: 1.5 }), RangeError);
});

Deno.test("LineEditor gives a pasted block of lines as one paste action, submitting nothing", () => {
  const editor = new LineEditor();
  type(editor, "typed ");
  const actions = type(
    editor,
    PASTE_START + "one\r\ntwo\nthree\tfour\n" + PASTE_END,
  );
  assert.deepEqual(submits(actions), []);
  assert.deepEqual(actions, [{ type: "paste", lines: ["one", "two", "three four"] }]);
  assert.equal(editor.text, "typed ");
});

Deno.test("LineEditor inserts a one-line paste", () => {
  const editor = new LineEditor();
  type(editor, PASTE_START + "one\ttwo" + PASTE_END);
  assert.equal(editor.text, "one two");
});

Deno.test("LineEditor drops controls and escape sequences inside a paste", () => {
  const editor = new LineEditor();
  type(editor, PASTE_START, "a\x03\x04\x1b[2J\x1b[Db", PASTE_END, "c");
  assert.equal(editor.text, "abc");
});

Deno.test("LineEditor password mode shows nothing of the typed text", () => {
  const editor = new LineEditor({ password: true });
  type(editor, "s3cret");
  assert.equal(editor.render("Password: "), "\r\x1b[2KPassword: \x1b[11G");
});

Deno.test("LineEditor password mode keeps passwords out of history", () => {
  const editor = new LineEditor({ password: true });
  assert.deepEqual(submits(type(editor, "s3cret\r")), ["s3cret"]);
  editor.password = false;
  type(editor, UP);
  assert.deepEqual(editor.history, []);
  assert.equal(editor.text, "");
});

Deno.test("LineEditor clears the line when password mode changes", () => {
  const editor = new LineEditor();
  type(editor, "half");
  editor.password = true;
  assert.equal(editor.text, "");
  type(editor, "pw");
  editor.password = false;
  assert.equal(editor.text, "");
});

Deno.test("LineEditor render clears the line, writes prompt and text, places the cursor", () => {
  const editor = new LineEditor();
  type(editor, "hello", LEFT, LEFT);
  assert.equal(editor.render("> "), "\r\x1b[2K> hello\x1b[6G");
});

Deno.test("LineEditor render counts CJK and emoji as two columns", () => {
  const editor = new LineEditor();
  type(editor, "日本😀a");
  assert.equal(editor.render(""), "\r\x1b[2K日本😀a\x1b[8G");
  type(editor, LEFT, LEFT);
  assert.equal(editor.render("> "), "\r\x1b[2K> 日本😀a\x1b[7G");
});

Deno.test("LineEditor render counts combining marks as no columns", () => {
  const editor = new LineEditor();
  type(editor, "e\u0301x");
  assert.equal(editor.render(""), "\r\x1b[2Ke\u0301x\x1b[3G");
});

Deno.test("LineEditor render sanitises the prompt", () => {
  const editor = new LineEditor();
  assert.equal(editor.render("\x1b[2J#lobby> "), "\r\x1b[2K#lobby> \x1b[9G");
});

Deno.test("LineEditor render scrolls a long line so the cursor stays visible", () => {
  const editor = new LineEditor();
  type(editor, "abcdefghijklmnopqrstuvwxyz");
  assert.equal(
    editor.render("> ", { columns: 10 }),
    "\r\x1b[2K> <uvwxyz\x1b[10G",
  );
  type(editor, "\x01");
  assert.equal(
    editor.render("> ", { columns: 10 }),
    "\r\x1b[2K> abcdef>\x1b[3G",
  );
});

Deno.test("LineEditor render does not split a wide character at the edge", () => {
  const editor = new LineEditor();
  type(editor, "日本語", "\x01");
  assert.equal(editor.render("", { columns: 6 }), "\r\x1b[2K日本>\x1b[1G");
});

Deno.test("LineEditor render places the cursor after Devanagari and Tamil by their columns", () => {
  const editor = new LineEditor();
  type(editor, "हिन्दी தமிழ்");
  assert.equal(editor.render("> "), "\r\x1b[2K> हिन्दी தமிழ்\x1b[13G");
  type(editor, LEFT, LEFT, LEFT, LEFT);
  assert.equal(editor.render("> "), "\r\x1b[2K> हिन्दी தமிழ்\x1b[8G");
});

Deno.test("LineEditor keeps a typed emoji ZWJ sequence as one two-column glyph", () => {
  const editor = new LineEditor();
  const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
  type(editor, `a${family}b`, LEFT, LEFT);
  assert.equal(editor.text, `a${family}b`);
  assert.equal(editor.render(""), `\r\x1b[2Ka${family}b\x1b[2G`);
});

Deno.test("LineEditor keeps a typed ZWNJ inside a Persian word", () => {
  const editor = new LineEditor();
  type(editor, "\u0645\u06cc\u200c\u062e");
  assert.equal(editor.text, "\u0645\u06cc\u200c\u062e");
});

Deno.test("LineEditor Ctrl-P, Ctrl-N and Alt-1..9 are room keys, not edits", () => {
  const editor = new LineEditor();
  const actions = type(editor, "hi\x10\x0e\x1b3");
  assert.deepEqual(actions.filter((a) => a.type === "key"), [
    { type: "key", key: "prev-room" },
    { type: "key", key: "next-room" },
    { type: "key", key: "room-3" },
  ]);
  assert.equal(editor.text, "hi");
});

Deno.test("LineEditor Tab asks for completion and Ctrl-L for a redraw", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "\t\x0c"), [{ type: "complete" }, { type: "refresh" }]);
  editor.replace("alice: ", 7);
  assert.equal(editor.text, "alice: ");
  assert.equal(editor.cursor, 7);
});

Deno.test("LineEditor Ctrl-R finds older input lines as the query is typed", () => {
  const editor = new LineEditor();
  type(editor, "/join dev\r", "hello\r", "/join ops\r", "draft");
  type(editor, "\x12", "jo");
  assert.equal(editor.render("> "), "\r\x1b[2K(reverse-i-search)'jo': /join ops\x1b[34G");
  type(editor, "\x12");
  assert.match(editor.render("> "), /'jo': \/join dev/);
  assert.deepEqual(submits(type(editor, "\r")), ["/join dev"]);
});

Deno.test("LineEditor Ctrl-G leaves search with the draft untouched", () => {
  const editor = new LineEditor();
  type(editor, "one\r", "dra", "\x12", "o", "\x07");
  assert.equal(editor.text, "dra");
  assert.equal(editor.render("> "), "\r\x1b[2K> dra\x1b[6G");
});

Deno.test("LineEditor a key other than a search key accepts the match for editing", () => {
  const editor = new LineEditor();
  type(editor, "hello world\r", "\x12", "wor", "\x01");
  assert.equal(editor.text, "hello world");
  assert.equal(editor.cursor, 0);
});

Deno.test("LineEditor reports focus in and out", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "\x1b[O\x1b[I"), [
    { type: "focus", focused: false },
    { type: "focus", focused: true },
  ]);
});
