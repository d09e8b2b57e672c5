/**
 * Where the server and the admin CLI keep their files: `deno task user add`
 * on a fresh checkout makes `data/` itself, and `--data DIR` (or
 * `BANTER_DATA`) alone moves the accounts file too, to `DIR/credentials.json`,
 * for the server and the CLI alike. Real processes in temp directories.
 *
 * @module
 */
import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkDataFiles } from "../../lib/server/data_files.ts";
import { userRunFlags } from "../../scripts/_user_permissions.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { tempDir, within } from "../_helpers.ts";
import { Output, PROCESS_MS } from "../_process.ts";
import { TEST_SCRYPT_LOG_N, writeTestCerts } from "../_server.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const PASSWORD = "quiet lantern 42\n";

/** The flags `deno task user` gives `deno run scripts/user.ts`: deno.json runs
 * its launcher, which grants these without `--cluster`. */
async function userTaskFlags(): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  const words = String(json.tasks.user.command).split(/\s+/);
  equal(words.slice(0, 2).join(" "), "deno run");
  equal(words.at(-1), "scripts/user_task.ts");
  return userRunFlags();
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

const ANY_ACCESS = ["--allow-read", "--allow-write", "--allow-env=BANTER_*"];

Deno.test("deno task user add on a fresh checkout makes data/ (mode 0700) and the account in it", async () => {
  await using dir = await tempDir();
  const run = await runUser(dir.path, await userTaskFlags(), ["add", "alice"], PASSWORD);
  equal(run.code, 0, run.stderr);
  equal(run.stdout, `Added user "alice" (user)\n`);
  match(run.stderr, /^Created data\/credentials\.json with user "admin"/);
  equal((await Deno.stat(join(dir.path, "data"))).mode! & 0o777, 0o700);
  const list = await runUser(dir.path, await userTaskFlags(), ["list"]);
  equal(list.code, 0, list.stderr);
  deepEqual(namesAndRoles(list.stdout), [["admin", "admin"], ["alice", "user"]]);
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

Deno.test("parseServerConfig() puts credentials.json in the data directory unless --credentials says otherwise", () => {
  const at = (args: string[], env: Record<string, string> = {}) =>
    parseServerConfig(args, env).config.credentials;
  equal(at([]), join("data", "credentials.json"));
  equal(at(["--data", "/srv/banter"]), "/srv/banter/credentials.json");
  equal(at([], { BANTER_DATA: "/srv/banter" }), "/srv/banter/credentials.json");
  equal(at(["--data", "/srv/banter", "--credentials", "/etc/accounts.json"]), "/etc/accounts.json");
});

Deno.test("the server with --data DIR and no --credentials keeps its accounts in DIR, where user.ts with BANTER_DATA finds them", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  await writeTestCerts(dir.path);
  const state = join(elsewhere.path, "state");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1,localhost",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      join(REPO, "server.ts"),
      "--port=0",
      "--http-port=0",
      "--web-port=0",
      "--console=off",
      `--scrypt-log-n=${TEST_SCRYPT_LOG_N}`,
      "--joke-url=http://127.0.0.1:9/jokes/random",
      `--data=${state}`,
    ],
    cwd: dir.path,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Output(child.stderr);
  const stdout = new Output(child.stdout);
  try {
    await stderr.waitFor(/Listening on /, PROCESS_MS).catch((error) => {
      throw new Error(`${error.message}\n${stderr.text}`);
    });
    const created = join(state, "credentials.json");
    const [, path] = await stdout.waitFor(/Created (\S+) with user "admin"/, PROCESS_MS);
    equal(path, created);
    equal((await Deno.stat(state)).mode! & 0o777, 0o700);
    equal(await Deno.stat(join(dir.path, "data")).catch(() => "none"), "none", "no ./data");
  } finally {
    child.kill("SIGTERM");
    await within(child.status, PROCESS_MS, "the server to exit");
    await Promise.all([stderr.done, stdout.done]);
  }
  const list = await runUser(dir.path, ANY_ACCESS, ["list"], "", { BANTER_DATA: state });
  deepEqual([list.code, list.stderr], [0, ""]);
  deepEqual(namesAndRoles(list.stdout), [["admin", "admin"]]);
});

Deno.test("with --data DIR, accounts left in ./credentials.json by an earlier version are refused with the mv to run", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "credentials.json"), "{}", { mode: 0o600 });
  const run = await runUser(dir.path, ANY_ACCESS, ["add", "alice", "--data", "state"], PASSWORD);
  deepEqual([run.code, run.stderr], [
    1,
    "user: Cannot open state/credentials.json: accounts are still in credentials.json, where earlier versions kept them; move them with: mv credentials.json state/credentials.json\n",
  ]);
  equal(await Deno.stat(join(dir.path, "state")).catch(() => "none"), "none", "no fresh file");
});

Deno.test("checkDataFiles() names the setting and the path of a missing directory", async () => {
  await using dir = await tempDir();
  const data = join(dir.path, "gone");
  await rejects(
    checkDataFiles({ data, credentials: join(data, "credentials.json") }),
    new Deno.errors.NotFound(`Cannot use data directory ${data} (--data): no such directory`),
  );
  const accounts = join(dir.path, "nowhere");
  await rejects(
    checkDataFiles({ data: dir.path, credentials: join(accounts, "credentials.json") }),
    new Deno.errors.NotFound(
      `Cannot use credentials directory ${accounts} (--credentials): no such directory`,
    ),
  );
});

/** The NAME and ROLE columns of `deno task user list`, header left out. */
function namesAndRoles(stdout: string): string[][] {
  return stdout.split("\n").slice(1).filter((line) => /^\S+ {2,}(admin|user) /.test(line))
    .map((line) => line.split(/ {2,}/).slice(0, 2));
}
