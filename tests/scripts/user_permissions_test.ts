/**
 * `deno task user` as an admin types it, on files its task line does not
 * grant: one line saying which `deno run` command would, never a
 * permission prompt (it runs with `--no-prompt`) nor a stack trace; and the
 * command it names does work.
 *
 * @module
 */
import { deepEqual, doesNotMatch, equal, match } from "node:assert/strict";
import { join } from "node:path";
import { CredentialStore } from "../../lib/auth/store.ts";
import { TOOL_EXIT } from "../../lib/util/exit_status.ts";
import { permissionAdvice } from "../../scripts/_user_permissions.ts";
import { GOOD_PASSWORD, testHasher } from "../auth/_helpers.ts";
import { tempDir } from "../_helpers.ts";
import { spawnPty } from "../_pty.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The advice line's command, as printed (shell-quoted). */
const ADVICE =
  /^user: Cannot read (.+?): not allowed to this process \(deno task user may read only data\/ and credentials\.json, write only data\/\); run instead: deno run (.+)$/m;

/** A terminal control sequence (ESC [ ... letter). */
const CSI = new RegExp(String.fromCharCode(0x1b) + "\\[[0-9;?]*[A-Za-z]", "g");

/** Run `line` (`deno run` arguments, shell-quoted) in the repository, stdin closed. */
async function runShell(line: string) {
  const { code, stdout, stderr } = await new Deno.Command("/bin/sh", {
    args: ["-c", `exec "$0" run --quiet ${line}`, Deno.execPath()],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("deno task user on a terminal, with --data outside what it grants, prints the one-line advice, no prompt; the advised command works", async () => {
  await using dir = await tempDir();
  const data = join(dir.path, "srv data");
  await Deno.mkdir(data);
  const store = await CredentialStore.open(join(data, "credentials.json"), {
    hasher: testHasher(),
  });
  await store.add("alice", GOOD_PASSWORD);

  await using pty = spawnPty([Deno.execPath(), "task", "--quiet", "user", "list", "--data", data], {
    cols: 400,
  });
  equal(await pty.status(), TOOL_EXIT.failure, pty.output());
  // Without the terminal's own control sequences (deno task clears its line).
  const output = pty.output().replaceAll("\r", "").replace(CSI, "");
  doesNotMatch(output, /Deno requests|Allow\?|\[y\/n/i, "no permission prompt");
  doesNotMatch(output, /^\s+at /m, "no stack trace");
  const advice = ADVICE.exec(output);
  equal(advice?.[1], join(data, "credentials.json"), output);
  equal(output.trim().split("\n").length, 1, output);

  const again = await runShell(advice?.[2] ?? "");
  equal(again.code, TOOL_EXIT.ok, again.stderr);
  match(again.stdout, /^alice +user /m);
});

Deno.test("deno task user with a config file it may not read gives the advice, not a usage error", async () => {
  await using dir = await tempDir();
  const config = join(dir.path, "banter.jsonc");
  await Deno.writeTextFile(config, "{}\n");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "user", "locks", "--config", config],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  deepEqual([code, new TextDecoder().decode(stdout)], [TOOL_EXIT.failure, ""]);
  equal(ADVICE.exec(text)?.[1], config, text);
  match(text, new RegExp(`--allow-read=data,credentials\\.json,${RegExp.escape(config)} `));
  doesNotMatch(text, /Usage:/);
});

Deno.test("permissionAdvice() grants the credentials file's directory too, and ignores other errors", () => {
  const denied = new Deno.errors.NotCapable(
    'Requires write access to "/srv/accounts/credentials.json.lock", run again with the --allow-write flag',
  );
  equal(
    permissionAdvice(denied, ["add", "bob"], {
      data: "data",
      credentials: "/srv/accounts/credentials.json",
    }),
    "Cannot write /srv/accounts/credentials.json.lock: not allowed to this process (deno task " +
      "user may read only data/ and credentials.json, write only data/); run instead: deno run " +
      "--no-prompt --allow-read=data,credentials.json,/srv/accounts " +
      "--allow-write=data,/srv/accounts '--allow-env=BANTER_*' scripts/user.ts add bob",
  );
  equal(permissionAdvice(new Error("Cannot add: no"), [], {}), undefined);
});
