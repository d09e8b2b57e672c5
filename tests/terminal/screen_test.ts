import assert from "node:assert/strict";
import { LineEditor } from "../../lib/terminal/line_editor.ts";
import { Screen, type ScreenOptions } from "../../lib/terminal/screen.ts";

const CLEAR = "\r\x1b[2K";

/** A screen writing into memory; `writes` holds each write call decoded. */
function memoryScreen(options: ScreenOptions) {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  const screen = new Screen(
    (bytes) => writes.push(decoder.decode(bytes)),
    options,
  );
  return { screen, writes };
}

function editorWith(text: string): LineEditor {
  const editor = new LineEditor();
  editor.feed(new TextEncoder().encode(text));
  return editor;
}

Deno.test("Screen print clears the input line, writes the lines, then redraws prompt and input", () => {
  const { screen, writes } = memoryScreen({ interactive: true, prompt: "> " });
  screen.updateInput(editorWith("half typed"));
  writes.length = 0;
  screen.print(["[14:05] <bob> hi", "[14:06] <bob> there"]);
  assert.deepEqual(writes, [
    CLEAR + "[14:05] <bob> hi\r\n[14:06] <bob> there\r\n" +
    CLEAR + "> half typed\x1b[13G",
  ]);
});

Deno.test("Screen print writes once per call", () => {
  const { screen, writes } = memoryScreen({ interactive: true });
  screen.print(["a", "b", "c"]);
  assert.equal(writes.length, 1);
});

Deno.test("Screen print with no lines writes nothing", () => {
  const { screen, writes } = memoryScreen({ interactive: true });
  screen.print([]);
  assert.deepEqual(writes, []);
});

Deno.test("Screen print before any input shows the bare prompt", () => {
  const { screen, writes } = memoryScreen({ interactive: true, prompt: "> " });
  screen.print(["hello"]);
  assert.deepEqual(writes, [CLEAR + "hello\r\n" + CLEAR + "> "]);
});

Deno.test("Screen updateInput redraws the input line", () => {
  const { screen, writes } = memoryScreen({ interactive: true, prompt: "> " });
  screen.updateInput(editorWith("hey"));
  assert.deepEqual(writes, [CLEAR + "> hey\x1b[6G"]);
});

Deno.test("Screen setPrompt redraws with the new prompt and the current input", () => {
  const { screen, writes } = memoryScreen({ interactive: true, prompt: "> " });
  screen.updateInput(editorWith("hey"));
  screen.setPrompt("#lobby> ");
  assert.equal(writes.at(-1), CLEAR + "#lobby> hey\x1b[12G");
  screen.print(["x"]);
  assert.equal(writes.at(-1), CLEAR + "x\r\n" + CLEAR + "#lobby> hey\x1b[12G");
});

Deno.test("Screen redraws the editor's latest state on print", () => {
  const { screen, writes } = memoryScreen({ interactive: true, prompt: "> " });
  const editor = editorWith("a");
  screen.updateInput(editor);
  editor.feed(new TextEncoder().encode("b"));
  screen.print(["x"]);
  assert.equal(writes.at(-1), CLEAR + "x\r\n" + CLEAR + "> ab\x1b[5G");
});

Deno.test("Screen scrolls a long input line to the terminal width", () => {
  const { screen, writes } = memoryScreen({
    interactive: true,
    prompt: "> ",
    columns: () => 10,
  });
  screen.updateInput(editorWith("abcdefghijklmnopqrstuvwxyz"));
  assert.equal(writes.at(-1), CLEAR + "> <uvwxyz\x1b[10G");
});

Deno.test("Screen sanitises a bare prompt", () => {
  const { screen, writes } = memoryScreen({ interactive: true });
  screen.setPrompt("\x1b]0;title\x07> ");
  assert.deepEqual(writes, [CLEAR + "> "]);
});

Deno.test("Screen clearInput clears the input line", () => {
  const { screen, writes } = memoryScreen({ interactive: true, prompt: "> " });
  screen.clearInput();
  assert.deepEqual(writes, [CLEAR]);
});

Deno.test("Screen in scripted mode prints plain lines and never draws a prompt", () => {
  const { screen, writes } = memoryScreen({ interactive: false, prompt: "> " });
  screen.updateInput(editorWith("typed"));
  screen.setPrompt("#lobby> ");
  screen.print(["one", "two"]);
  screen.clearInput();
  assert.deepEqual(writes, ["one\ntwo\n"]);
});

Deno.test("Screen print wraps a line wider than the terminal itself, indented, never into column 1", () => {
  const { screen, writes } = memoryScreen({ interactive: true, columns: () => 20 });
  screen.print(["-- " + "x".repeat(17) + "[07:19] <root>"]);
  assert.deepEqual(writes, [
    CLEAR + "-- " + "x".repeat(17) + "\r\n    [07:19] <root>\r\n" + CLEAR,
  ]);
});

Deno.test("Screen print of a scripted (piped) client never wraps", () => {
  const { screen, writes } = memoryScreen({ interactive: false, columns: () => 20 });
  const line = "x".repeat(50);
  screen.print([line]);
  assert.deepEqual(writes, [line + "\n"]);
});

Deno.test("Screen with a status line draws it above the input and moves it down on print", () => {
  let status = "[#lobby] alice";
  const { screen, writes } = memoryScreen({
    interactive: true,
    prompt: "> ",
    status: () => status,
  });
  screen.updateInput(editorWith("hi"));
  screen.redraw();
  assert.equal(writes.at(-1), CLEAR + "[#lobby] alice\r\n" + CLEAR + "> hi\x1b[5G");
  status = "[#lobby] alice | Act: #dev(1)";
  screen.print(["<bob> yo"]);
  assert.equal(
    writes.at(-1),
    "\r\x1b[1A\x1b[J<bob> yo\r\n" + CLEAR + "[#lobby] alice | Act: #dev(1)\r\n" + CLEAR +
      "> hi\x1b[5G",
  );
});

Deno.test("Screen print of one short line writes a bounded number of bytes", () => {
  const { screen, writes } = memoryScreen({
    interactive: true,
    prompt: "[#lobby] alice> ",
    columns: () => 100,
    status: () => "[#lobby] alice | Act: #dev(3) #ops(1!)",
  });
  const editor = editorWith("x".repeat(5000));
  screen.updateInput(editor);
  screen.print(["[12:00] <bob> " + "y".repeat(60)]);
  const bytes = new TextEncoder().encode(writes.at(-1)).length;
  // The line, the status row and one row of input (scrolled to the width), plus escapes.
  assert.ok(bytes <= 74 + 100 + 100 + 40, `${bytes} bytes`);
  assert.equal(screen.lastWriteBytes, bytes);
});

Deno.test("Screen refresh clears the screen and draws the kept lines that fit", () => {
  const { screen, writes } = memoryScreen({
    interactive: true,
    prompt: "> ",
    rows: () => 3,
    status: () => "status",
  });
  screen.print(["one", "two", "three"]);
  screen.refresh();
  assert.equal(writes.at(-1), "\x1b[H\x1b[2Jthree\r\n" + CLEAR + "status\r\n" + CLEAR + "> ");
});
