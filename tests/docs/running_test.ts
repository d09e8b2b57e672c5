/**
 * docs/RUNNING.md's exit-status table against the code: every status it
 * lists is a constant the code defines, under that name, and every constant
 * is listed; and the server and admin tools, which return the numbers, do
 * exit with them.
 *
 * @module
 */
import { deepEqual, equal, match } from "node:assert/strict";
import { join } from "node:path";
import { EXIT } from "../../lib/client/run.ts";
import { TOOL_EXIT } from "../../lib/util/exit_status.ts";
import { tempDir, within } from "../_helpers.ts";
import { PROCESS_MS, spawnServerProcess, startCli } from "../_process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The code's constants, by the program the page names. */
const CONSTANTS: Record<string, Record<string, number>> = {
  "deno task client": EXIT,
  "deno task server": TOOL_EXIT,
  "deno task user": TOOL_EXIT,
  "deno task certs": TOOL_EXIT,
};

/** The table's rows as program -> constant name -> status. */
function documentedStatuses(markdown: string): Record<string, Record<string, number>> {
  const begin = markdown.indexOf("<!-- exit-statuses:begin -->");
  const end = markdown.indexOf("<!-- exit-statuses:end -->");
  if (begin < 0 || end < begin) throw new Error("RUNNING.md has no exit-statuses table");
  const table: Record<string, Record<string, number>> = {};
  for (const line of markdown.slice(begin, end).split("\n")) {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    const [program, status, constant] = cells;
    if (program === undefined || status === undefined || constant === undefined) continue;
    if (!/^\d+$/.test(status)) continue; // the header and its rule
    const name = program.replaceAll("`", "");
    (table[name] ??= {})[constant.replaceAll("`", "")] = Number(status);
  }
  return table;
}

Deno.test("every exit status docs/RUNNING.md lists is the code's constant of that name, and none is missing", async () => {
  const documented = documentedStatuses(await Deno.readTextFile(join(ROOT, "docs", "RUNNING.md")));
  deepEqual(Object.keys(documented).sort(), Object.keys(CONSTANTS).sort());
  for (const [program, constants] of Object.entries(CONSTANTS)) {
    deepEqual(documented[program], { ...constants }, program);
  }
});

Deno.test("the client's --help lists the same exit statuses as the page", async () => {
  const client = await Deno.readTextFile(join(ROOT, "client.ts"));
  const usage = client.slice(
    client.indexOf("Exit status:"),
    client.indexOf("`;", client.indexOf("Exit status:")),
  );
  for (const status of Object.values(EXIT)) {
    match(usage, new RegExp(`\\b${status} `), `status ${status}`);
  }
});

/** The server's exit status with `args`, run on the files in `dir`. */
async function serverStatus(dir: string, args: string[]): Promise<number> {
  await using server = spawnServerProcess(dir, { args });
  return (await within(server.status, PROCESS_MS, "the server to exit")).code;
}

Deno.test("the server exits with the documented statuses: usage, failure, ok", async () => {
  await using dir = await tempDir();
  equal(await serverStatus(dir.path, ["--hots", "x"]), TOOL_EXIT.usage, "unknown flag");
  equal(
    await serverStatus(dir.path, ["--cert", join(dir.path, "missing.pem")]),
    TOOL_EXIT.failure,
    "missing certificate",
  );
  {
    await using server = spawnServerProcess(dir.path);
    await server.listening();
    equal((await server.stop()).code, TOOL_EXIT.ok, "SIGTERM");
  }
});

Deno.test("deno task user exits with the documented statuses: usage, failure, ok", async () => {
  await using dir = await tempDir();
  equal((await startCli(dir.path, ["frobnicate"], "").result).code, TOOL_EXIT.usage);
  equal((await startCli(dir.path, ["remove", "nobody"], "").result).code, TOOL_EXIT.failure);
  equal((await startCli(dir.path, ["--help"], "").result).code, TOOL_EXIT.ok);
});

Deno.test("deno task certs exits with the documented statuses: usage, failure, ok", async () => {
  await using dir = await tempDir();
  const certs = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--allow-read=${dir.path}`,
        `--allow-write=${dir.path}`,
        join(ROOT, "scripts", "certs.ts"),
        "--dir",
        dir.path,
        ...args,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
  equal((await certs(["--hots", "x"])).code, TOOL_EXIT.usage);
  equal((await certs(["--add-clients", "--client", "alice"])).code, TOOL_EXIT.failure, "no CA");
  equal((await certs(["--client", "alice"])).code, TOOL_EXIT.ok);
});

Deno.test("the server and the admin tools return their exit statuses by name, never as bare numbers", async () => {
  const bare = /\breturn\s+\d+\s*;|Deno\.exit\(\s*\d/g;
  for (
    const file of [
      "server.ts",
      "client.ts",
      "scripts/serve.ts",
      "scripts/user.ts",
      "scripts/certs.ts",
    ]
  ) {
    const source = await Deno.readTextFile(join(ROOT, file));
    deepEqual(source.match(bare) ?? [], [], `${file} returns a bare exit status`);
  }
});
