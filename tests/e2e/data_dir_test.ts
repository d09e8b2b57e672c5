/**
 * Where the server and the admin CLI keep their files: `deno task user add`
 * on a fresh checkout makes `data/` itself, and `--data DIR` (or
 * `BANTER_DATA`) alone moves the accounts file too, to `DIR/credentials.json`,
 * for the server and the CLI alike. Real processes in temp directories.
 *
 * @module
 */
import { deepEqual, equal, match } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir, within } from "../_helpers.ts";
import { PROCESS_MS } from "../_process.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const PASSWORD = "quiet lantern 42\n";

/** The flags `deno task user` gives `deno run`, exactly as deno.json writes them. */
async function userTaskFlags(): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  const words = String(json.tasks.user).split(/\s+/);
  equal(words.slice(0, 2).join(" "), "deno run");
  equal(words.at(-1), "scripts/user.ts");
  return words.slice(2, -1);
}

/** Run the admin CLI in `cwd` with `flags` for `deno run`, `input` on stdin. */
async function runUser(
  cwd: string,
  flags: string[],
  args: string[],
  input = "",
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      "--config",
      join(REPO, "deno.json"),
      ...flags,
      join(REPO, "scripts", "user.ts"),
      ...args,
    ],
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await within(child.output(), PROCESS_MS, "the CLI to exit");
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("deno task user add on a fresh checkout makes data/ (mode 0700) and the account in it", async () => {
  await using dir = await tempDir();
  const run = await runUser(dir.path, await userTaskFlags(), ["add", "alice"], PASSWORD);
  equal(run.code, 0, run.stderr);
  equal(run.stdout, `Added user "alice" (user)\n`);
  match(run.stderr, /^Created data\/credentials\.json with user "admin"/);
  equal((await Deno.stat(join(dir.path, "data"))).mode! & 0o777, 0o700);
  const list = await runUser(dir.path, await userTaskFlags(), ["list"]);
  deepEqual([list.code, list.stdout], [0, "admin\tadmin\nalice\tuser\n"]);
});

Deno.test("user.ts list and remove on a fresh checkout make no directory", async () => {
  await using dir = await tempDir();
  for (const args of [["list"], ["remove", "alice"]]) {
    const run = await runUser(dir.path, await userTaskFlags(), args);
    equal(run.code, 1, args.join(" "));
    equal(run.stderr, "user: Cannot load credentials from data/credentials.json: file not found\n");
  }
  deepEqual([...Deno.readDirSync(dir.path)], []);
});
