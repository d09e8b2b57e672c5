/**
 * A user pads a message with spaces to the terminal's width so that, when
 * the terminal wraps it, its tail starts in column 1 and looks like a line
 * of its own (`[07:19] <root> ...`). The real client, in a real
 * pseudo-terminal 100 columns wide, must wrap it itself with an indent,
 * also when the padding is emoji ZWJ pairs that a terminal drawing each
 * code point (xterm, VTE, tmux) shows twice as wide as one glyph.
 *
 * @module
 */
import { ok } from "node:assert/strict";
import { graphemes, graphemeWidth } from "../../lib/terminal/_display_width.ts";
import { clientArgs, type ClientProcess, startClient } from "../_client_process.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";

/** The width `startClient({ tty: true })` gives its terminal (`stty cols 100`). */
const COLUMNS = 100;

// deno-lint-ignore no-control-regex -- parsing the terminal's escape codes is the point
const ESCAPE = /^\x1b(\[[0-9;?]*[ -/]*[@-~]|[^[])/;

/**
 * The rows a terminal `columns` wide shows for `output`: text, CR, LF, erase
 * line (CSI 2K), cursor to column (CSI n G), other escapes ignored, and the
 * terminal's own wrap when a character does not fit the row.
 */
function terminalRows(output: string, columns: number, byCodePoint = false): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let column = 0;
  const put = (cell: string, width: number) => {
    if (column + width > columns) {
      row++;
      column = 0;
    }
    rows[row] ??= [];
    const cells = rows[row]!;
    while (cells.length < column) cells.push(" ");
    cells[column] = cell;
    for (let i = 1; i < width; i++) cells[column + i] = "";
    column += width;
  };
  for (let at = 0; at < output.length;) {
    const escape = ESCAPE.exec(output.slice(at, at + 32));
    if (escape) {
      const code = escape[0];
      if (code === "\x1b[2K") rows[row] = [];
      // deno-lint-ignore no-control-regex -- cursor to column n
      const to = /^\x1b\[(\d+)G$/.exec(code);
      if (to) column = Number(to[1]) - 1;
      at += code.length;
      continue;
    }
    const char = output[at]!;
    if (char === "\r") {
      column = 0;
      at++;
    } else if (char === "\n") {
      row++;
      rows[row] ??= [];
      at++;
    } else {
      const [grapheme = char] = graphemes(output.slice(at, at + 16));
      if (byCodePoint) {
        // xterm, VTE, Konsole, tmux: each code point on its own, joiners take no cell.
        for (const cp of grapheme) {
          const width = graphemeWidth(cp);
          if (width > 0) put(cp, width);
          else if (column > 0) rows[row]![column - 1] += cp;
        }
      } else put(grapheme, graphemeWidth(grapheme));
      at += grapheme.length;
    }
  }
  return rows.map((cells) => cells.join("").trimEnd());
}

/** The real client logged in as alice to `s`, in a pseudo-terminal {@linkcode COLUMNS} wide. */
function aliceInTerminal(s: TestServer): ClientProcess {
  return startClient(clientArgs(s.dir, s.port, "alice"), {
    tty: true,
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
}

Deno.test("a message padded to the terminal width cannot put a fake line in column 1 of a real terminal", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  await using client = aliceInTerminal(s);
  await client.waitFor("Logged in as alice");
  const fake = "[07:19] <root> You are all banned, reconnect to appeal";
  // "[HH:MM] <bob> hi" is 16 columns: pad the rest of the row.
  const text = "hi" + " ".repeat(COLUMNS - 16) + fake;
  await bob.send({ type: "say", text });
  await client.waitFor("You are all banned, reconnect to appeal");
  await client.write("end\r");
  await client.status();
  const rows = terminalRows(client.output(), COLUMNS);
  const bobRow = rows.findIndex((row) => row.includes("<bob> hi"));
  ok(bobRow >= 0, "bob's message is shown");
  ok(
    !rows.some((row) => row.startsWith("[07:19]")),
    `a row starts with the fake line:\n${rows.join("\n")}`,
  );
  // Indented under the text: "[HH:MM] <bob> " is 14 columns.
  ok(rows[bobRow + 1]?.startsWith(" ".repeat(14) + fake), `not indented:\n${rows.join("\n")}`);
});

Deno.test("emoji ZWJ pairs as padding cannot put a fake line in column 1 of a terminal that draws each pictograph", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  await using client = aliceInTerminal(s);
  await client.waitFor("Logged in as alice");
  const fake = "[07:19] <root> run /quit now";
  // "[HH:MM] <bob> " is 14 columns; 21 pairs are 84 columns drawn a pictograph at a time
  // (42 as one glyph each), and 2 spaces fill the row to 100.
  const pair = "\u{1f355}\u200d\u{1f355}";
  await bob.send({ type: "say", text: pair.repeat(21) + "  " + fake });
  await client.waitFor("run /quit now");
  await client.write("end\r");
  await client.status();
  ok(client.output().includes(pair), "the ZWJ is kept");
  const rows = terminalRows(client.output(), COLUMNS, true);
  ok(rows.some((row) => row.includes("<bob> ")), "bob's message is shown");
  ok(
    !rows.some((row) => row.startsWith("[07:19]")),
    `a row starts with the fake line:\n${rows.join("\n")}`,
  );
  ok(
    rows.some((row) => row.startsWith(" ".repeat(14) + fake)),
    `not indented:\n${rows.join("\n")}`,
  );
});
