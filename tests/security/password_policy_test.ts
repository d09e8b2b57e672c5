/**
 * Attack: an admin (or a user asking one) sets a password a guesser tries
 * first. The real admin CLI must refuse each kind, name the rule, never
 * echo the password, and leave the accounts file as it was; on a terminal
 * it shows the rules before the prompt.
 *
 * @module
 */
import { equal, match } from "node:assert/strict";
import { CredentialStore } from "../../lib/auth/store.ts";
import { CONFIG, denoRun, fixedRandom, GOOD_PASSWORD, testHasher } from "../auth/_helpers.ts";
import { tempDir, within } from "../_helpers.ts";

const SCRIPT = new URL("../../scripts/user.ts", import.meta.url).pathname;

async function cli(cwd: string, args: string[], input: string) {
  const child = denoRun(
    SCRIPT,
    [...args, "--scrypt-log-n", "10", "--credentials=credentials.json"],
    {
      cwd,
      stdin: "piped",
    },
  );
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

const WEAK: [string, RegExp][] = [
  ["zzzzzzzzzzzz", /one character repeated/],
  [" \t  \t  \t  ", /only whitespace/],
  ["abcabcabcabc", /pattern of up to 4 characters repeated/],
  ["1234567890", /sequence along the keyboard/],
  ["qwertyuiop", /sequence along the keyboard/],
  ["0987654321", /sequence along the keyboard/],
  ["password123", /common password/],
  ["PASSWORD123", /common password/],
  ["P@ssw0rd2024", /common password/],
  ["iloveyou!!", /common password/],
  ["1qaz2wsx3edc", /sequence along the keyboard/],
];

Deno.test("user.ts add and passwd refuse repeated, blank, sequential and common passwords, naming the rule and never the password", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/credentials.json`;
  const store = await CredentialStore.open(path, { hasher: testHasher(), random: fixedRandom() });
  await store.add("alice", GOOD_PASSWORD);
  const before = await Deno.readTextFile(path);
  for (const [password, rule] of WEAK) {
    for (const args of [["add", "mallory"], ["passwd", "alice"]]) {
      const run = await cli(dir.path, args, `${password}\n`);
      equal(run.code, 1, `${args[0]} ${JSON.stringify(password)}: ${run.stderr}`);
      match(run.stderr, /^user: Cannot set password for "(mallory|alice)": password must not /);
      match(run.stderr, rule);
      equal(run.stderr.split("\n").length, 2, "one line");
      const shown = run.stdout + run.stderr;
      if (password.trim() !== "") {
        equal(
          shown.toLowerCase().includes(password.toLowerCase()),
          false,
          `never echoed: ${shown}`,
        );
      }
    }
  }
  equal(await Deno.readTextFile(path), before, "nothing was written");
  const good = await cli(dir.path, ["passwd", "alice"], "amber window 31\n");
  equal(good.code, 0, good.stderr);
});

Deno.test({
  name: "on a terminal, user.ts add shows the rules before the prompt and names the broken rule",
  fn: async () => {
    await using dir = await tempDir();
    const command = [
      Deno.execPath(),
      "run",
      "--quiet",
      "--config",
      CONFIG,
      "--allow-read",
      "--allow-write",
      "--allow-env=BANTER_*",
      SCRIPT,
      "add",
      "bob",
      "--scrypt-log-n",
      "10",
      "--credentials=credentials.json",
    ].map((arg) => `'${arg}'`).join(" ");
    // script(1) gives the CLI a pseudo-terminal on its stdin and stdout.
    const child = new Deno.Command("script", {
      args: ["-qfec", command, "/dev/null"],
      cwd: dir.path,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let screen = "";
    /** Read the terminal until `text` shows (or, with none, to the end). */
    const waitFor = (text?: string) =>
      within(
        (async () => {
          while (text === undefined || !screen.includes(text)) {
            const { value, done } = await reader.read();
            if (done && text === undefined) return;
            if (done) throw new Error(`Cannot find ${text}: the CLI ended`);
            screen += value;
          }
        })(),
        10_000,
        `the CLI to show ${JSON.stringify(text ?? "its end")}`,
      );
    await waitFor("New password for bob: ");
    const rules = screen.indexOf("A password must be:");
    equal(rules >= 0 && rules < screen.indexOf("New password for bob: "), true, screen);
    match(screen, /- not a common password/);
    await writer.write(new TextEncoder().encode("letmein2024\r"));
    await waitFor("Repeat the password: ");
    await writer.write(new TextEncoder().encode("letmein2024\r"));
    await waitFor("password must not");
    await writer.close();
    await waitFor();
    const { code } = await child.status;
    await child.stderr.cancel();
    equal(code, 1);
    match(screen, /password must not be a common password/);
    equal(
      screen.includes("letmein2024"),
      false,
      `the password is never echoed: ${JSON.stringify(screen)}`,
    );
  },
});
