/**
 * The real server with its operator console in a real pseudo-terminal, the
 * screen read back through a terminal emulator.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../_helpers.ts";
import { type Pty, spawnPty } from "../_pty.ts";
import { serverFileArgs } from "../_process.ts";
import { loginAs, writeServerFiles } from "../_server.ts";
import { TestClient } from "../_helpers.ts";
import { CONSOLE_OFF } from "../../lib/server/console.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The server with the console on, in a pty, on files in `dir` with the user alice. */
async function consoleInPty(dir: string): Promise<Pty> {
  await writeServerFiles(dir, { users: ["alice"] });
  return spawnPty([
    Deno.execPath(),
    "run",
    "--allow-net=127.0.0.1,localhost",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=statfs",
    join(ROOT, "server.ts"),
    "--port=0",
    "--console=on",
    ...serverFileArgs(dir),
  ], { cwd: dir });
}

/** The port the server in `pty` says it listens on. */
async function listeningPort(pty: Pty): Promise<number> {
  const said = await pty.waitFor(/Listening on \S+:\d+/);
  return Number(/Listening on [^:\s]+:(\d+)/.exec(said)?.[1]);
}

function inputRow(lines: string[]): string {
  return (lines.findLast((l) => l.trim() !== "") ?? "").trimEnd();
}

Deno.test("a log line is printed above the console's input line, not into the operator's typing", async () => {
  await using dir = await tempDir();
  await using pty = await consoleInPty(dir.path);
  const port = await listeningPort(pty);
  await pty.waitFor("[#lobby] operator> ");
  await pty.write("half-typed");
  await pty.waitFor("[#lobby] operator> half-typed");
  await using intruder = await TestClient.connect(port);
  await intruder.login("alice", "not her password");
  // Settled once the log line is printed and the input redrawn under it; a
  // console that wrote the log into the typing never gets there.
  await pty.waitUntil(
    (l) =>
      l.some((x) => /Failed login for "?alice/.test(x)) &&
      inputRow(l) === "[#lobby] operator> half-typed",
    "the log line above the half-typed input",
  );
  const lines = pty.lines();
  const log = lines.findIndex((l) => l.includes("Failed login for alice"));
  const input = lines.findLastIndex((l) => l.trim() !== "");
  ok(log < input - 1, "the log line is above the status and input lines");
  equal(lines[input - 1]?.trimEnd(), "[#lobby] operator");
  ok(!lines[log]?.includes("half-typed"), lines[log]);
});

Deno.test("console Ctrl-D asks first; n keeps it, y closes it and the server keeps running", async () => {
  await using dir = await tempDir();
  await using pty = await consoleInPty(dir.path);
  const port = await listeningPort(pty);
  await pty.waitFor("[#lobby] operator> ");
  await pty.write("\x04");
  await pty.waitFor("Close the console? The server keeps running. [y/N]");
  await pty.write("n\r");
  await pty.waitUntil((l) => inputRow(l) === "[#lobby] operator>", "the prompt back");
  await pty.write("\x04");
  await pty.waitFor("Close the console? The server keeps running. [y/N]");
  await pty.write("y\r");
  await pty.waitFor(CONSOLE_OFF);
  await pty.waitUntil(
    (l) => !inputRow(l).includes("operator>") && !inputRow(l).includes("[y/N]"),
    "the console closed",
  );
  await using alice = await loginAs(port, "alice");
  ok(alice.received.some((f) => f.type === "welcome"), "still serving");
});

Deno.test("the console completes nicks with Tab and redraws on resize", async () => {
  await using dir = await tempDir();
  await using pty = await consoleInPty(dir.path);
  const port = await listeningPort(pty);
  await using _alice = await loginAs(port, "alice");
  await pty.waitFor("alice joined #lobby");
  await pty.write("/kick al\t");
  await pty.waitUntil((l) => inputRow(l) === "[#lobby] operator> /kick alice", "alice completed");
  await pty.write("x".repeat(100));
  await pty.resize(50, 20);
  await pty.waitUntil(
    // 50 columns: the prompt, "<", 29 characters and the cursor's column.
    (l) => inputRow(l) === "[#lobby] operator> <" + "x".repeat(29),
    "the input redrawn at 50 columns",
  );
});
