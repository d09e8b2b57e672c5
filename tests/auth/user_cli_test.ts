import { deepEqual, equal, match } from "node:assert/strict";
import { Lockout } from "../../lib/auth/lockout.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import { denoRun, fixedRandom, GOOD_PASSWORD, tempDir, testHasher } from "./_helpers.ts";

const SCRIPT = new URL("../../scripts/user.ts", import.meta.url);
const hasher = testHasher();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the CLI in `cwd`, feeding `input` on stdin, on `cwd/credentials.json`
 * unless the arguments or environment name the file or a config (the
 * default is data/credentials.json).
 */
async function cli(
  cwd: string,
  args: string[],
  input?: string,
  env?: Record<string, string>,
): Promise<Run> {
  const named = args.some((a) => a.startsWith("--credentials") || a.startsWith("--config")) ||
    Object.keys(env ?? {}).some((k) => k === "BANTER_CREDENTIALS" || k === "BANTER_CONFIG");
  const child = denoRun(SCRIPT, named ? args : ["--credentials=credentials.json", ...args], {
    cwd,
    stdin: "piped",
    ...(env ? { env } : {}),
  });
  const writer = child.stdin.getWriter();
  if (input !== undefined) await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

async function seed(dir: string, path = `${dir}/credentials.json`) {
  const store = await CredentialStore.open(path, {
    hasher,
    random: fixedRandom(),
  });
  await store.add("alice", GOOD_PASSWORD);
  return store;
}

Deno.test("user.ts add reads the password from stdin, hashes with the defaults and creates the file once", async () => {
  await using dir = await tempDir();
  const first = await cli(
    dir.path,
    ["add", "carol", "--role", "admin"],
    "green kettle 55\nignored\n",
  );
  equal(first.code, 0, first.stderr);
  equal(first.stdout, `Added user "carol" (admin)\n`);
  match(
    first.stderr,
    /^Created credentials\.json with user "admin"; its password \(shown once\): [A-Za-z0-9_-]{20}\n$/,
  );
  const store = await CredentialStore.open(`${dir.path}/credentials.json`, {
    hasher,
  });
  deepEqual(store.list(), [
    { name: "admin", role: "admin" },
    { name: "carol", role: "admin" },
  ]);
  const hash = store.get("carol")?.hash ?? "";
  match(hash, /^\$scrypt\$ln=17,r=8,p=1\$/);
  equal((await testHasher().verify("green kettle 55", hash)).ok, true);
  equal((await testHasher().verify("ignored", hash)).ok, false);

  const second = await cli(dir.path, ["add", "dave"], "blue window 88\n");
  equal(second.code, 0, second.stderr);
  equal(second.stderr, "");
});

Deno.test("user.ts hashes at the server's scrypt cost: --scrypt-log-n, BANTER_SCRYPT_LOG_N or the server's config file", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/banter.json`,
    JSON.stringify({ scryptLogN: 12, credentials: "accounts.json", port: 9001 }),
  );
  const runs: [string, string[], Record<string, string> | undefined, RegExp][] = [
    ["erin", ["--scrypt-log-n", "11"], undefined, /^\$scrypt\$ln=11,/],
    ["fred", [], { BANTER_SCRYPT_LOG_N: "10" }, /^\$scrypt\$ln=10,/],
    ["gina", ["--config", "banter.json"], undefined, /^\$scrypt\$ln=12,/],
    ["hugo", [], { BANTER_CONFIG: "banter.json" }, /^\$scrypt\$ln=12,/],
  ];
  for (const [name, flags, env, expected] of runs) {
    const run = await cli(
      dir.path,
      ["add", name, "--credentials", "accounts.json", ...flags],
      `${GOOD_PASSWORD}\n`,
      env,
    );
    equal(run.code, 0, run.stderr);
    const store = await CredentialStore.open(`${dir.path}/accounts.json`, { hasher });
    match(store.get(name)?.hash ?? "", expected, name);
  }
  const bad = await cli(dir.path, ["list", "--scrypt-log-n", "3"]);
  equal(bad.code, 2);
  match(bad.stderr, /scryptLogN/);
});

Deno.test("user.ts add refuses duplicates, weak passwords and bad names with one line and exit 1", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const cases: [string[], string, RegExp][] = [
    [
      ["add", "ALICE"],
      `${GOOD_PASSWORD}\n`,
      /^user: Cannot add user "ALICE": user "alice" already exists\n$/,
    ],
    [
      ["add", "erin"],
      "short\n",
      /^user: Cannot set password for "erin": password must be at least 10 characters\n$/,
    ],
    [["add", "erin"], "erin-is-the-best\n", /^user: .*must not contain the user name\n$/],
    [["add", "erin"], "", /^user: .*at least 10 characters\n$/],
    [["add", ".bad"], `${GOOD_PASSWORD}\n`, /^user: Cannot add user: user name must/],
    [["add", "erin", "--role", "root"], `${GOOD_PASSWORD}\n`, /^user: .*unknown role "root"\n$/],
    [
      ["add", "operator"],
      `${GOOD_PASSWORD}\n`,
      /^user: Cannot add user "operator": the name is reserved\n$/,
    ],
    [
      ["add", "J0keBot"],
      `${GOOD_PASSWORD}\n`,
      /^user: Cannot add user "J0keBot": the name is reserved\n$/,
    ],
    [
      ["add", "aIice"],
      `${GOOD_PASSWORD}\n`,
      /^user: Cannot add user "aIice": it looks like the existing user "alice"\n$/,
    ],
  ];
  for (const [args, input, expected] of cases) {
    const run = await cli(dir.path, args, input);
    equal(run.code, 1, args.join(" "));
    match(run.stderr, expected);
    equal(run.stderr.includes(input.trim() || "\u0000"), false);
  }
  const store = await CredentialStore.open(`${dir.path}/credentials.json`, {
    hasher,
  });
  equal(store.list().length, 2);
});

Deno.test("user.ts list, passwd and remove work on the file the server uses", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/conf`);
  const store = await seed(dir.path, `${dir.path}/conf/accounts.json`);
  const flag = ["--credentials", "conf/accounts.json"];

  const list = await cli(dir.path, ["list", ...flag]);
  equal(list.code, 0, list.stderr);
  deepEqual(list.stdout.split("\n").slice(0, 3).map((line) => line.split(/ {2,}/).slice(0, 2)), [
    ["NAME", "ROLE"],
    ["admin", "admin"],
    ["alice", "user"],
  ]);

  const passwd = await cli(dir.path, ["passwd", "alice", ...flag], "new phrase here\n");
  equal(passwd.code, 0, passwd.stderr);
  await store.refresh();
  equal((await hasher.verify("new phrase here", store.get("alice")?.hash ?? "")).ok, true);

  const remove = await cli(dir.path, ["remove", "alice", ...flag]);
  deepEqual([remove.code, remove.stdout], [0, `Removed user "alice"\n`]);
  await store.refresh();
  equal(store.get("alice"), undefined);

  for (const args of [["remove", "alice"], ["passwd", "alice"]]) {
    const run = await cli(dir.path, [...args, ...flag], `${GOOD_PASSWORD}\n`);
    equal(run.code, 1);
    match(run.stderr, /^user: Cannot .* "alice": no such user\n$/);
  }
});

Deno.test("user.ts refuses a missing credentials file except for add, which makes its directory (0700)", async () => {
  await using dir = await tempDir();
  const run = await cli(dir.path, ["list"]);
  equal(run.code, 1);
  equal(
    run.stderr,
    "user: Cannot load credentials from credentials.json: file not found\n",
  );
  await Deno.writeTextFile(`${dir.path}/credentials.json`, "{}");
  const nowhere = await cli(
    dir.path,
    ["add", "erin", "--credentials", "no/x.json"],
    `${GOOD_PASSWORD}\n`,
  );
  equal(nowhere.code, 0, nowhere.stderr);
  equal((await Deno.stat(`${dir.path}/no`)).mode! & 0o777, 0o700);
  equal(
    (await CredentialStore.open(`${dir.path}/no/x.json`, { hasher })).get("erin")?.role,
    "user",
  );
  const empty = await cli(dir.path, ["list"]);
  equal(empty.code, 1);
  equal(
    empty.stderr,
    "user: Cannot load credentials from credentials.json: no users\n",
  );
});

Deno.test("user.ts unlock lifts a lockout recorded by the server", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const server = await Lockout.open(`${dir.path}/state/lockout.json`, { account: HOUR_LOCK });
  for (let i = 0; i < 3; i++) await server.recordFailure("alice", "192.0.2.1");
  equal(server.status("alice", "192.0.2.1").locked, true);

  const run = await cli(dir.path, ["unlock", "alice", "--data", "state"]);
  deepEqual([run.code, run.stdout, run.stderr], [
    0,
    `Unlocked "alice" from 192.0.2.1 (1 h were left)\nCleared the slow-down of "alice"\n`,
    "",
  ]);
  await server.refresh();
  equal(server.status("alice", "192.0.2.1").locked, false);

  const again = await cli(dir.path, ["unlock", "alice", "--data", "state"]);
  deepEqual([again.code, again.stdout], [0, `"alice" had no lock and no failed logins\n`]);
  const unknown = await cli(dir.path, ["unlock", "zed", "--data", "state"]);
  deepEqual([unknown.code, unknown.stderr], [1, `user: Cannot unlock "zed": no such user\n`]);
});

Deno.test("user.ts unlock NAME lifts failures recorded under the name in another case, and list shows them", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const server = await Lockout.open(`${dir.path}/data/lockout.json`, { account: HOUR_LOCK });
  for (const typed of ["ALICE", "Alice", "aLICE"]) await server.recordFailure(typed, "192.0.2.1");
  equal(server.status("alice", "192.0.2.1").locked, true);

  const list = await cli(dir.path, ["list"]);
  equal(list.code, 0, list.stderr);
  match(list.stdout, /^alice +user +locked from 192\.0\.2\.1 \(1 h\), slowed \(1 s\) /m);
  const run = await cli(dir.path, ["unlock", "alice"]);
  deepEqual([run.code, run.stdout, run.stderr], [
    0,
    `Unlocked "alice" from 192.0.2.1 (1 h were left)\nCleared the slow-down of "alice"\n`,
    "",
  ]);
  await server.refresh();
  equal(server.status("ALICE", "192.0.2.1").locked, false);
  equal(server.delayMs("ALICE", "203.0.113.1"), 0);
});

/** Locks that last an hour, so the time left the CLI shows is exact. */
const HOUR_LOCK = { threshold: 3, durationsMs: [3_600_000] };
const HOUR_IP_LOCK = { threshold: 10, durationsMs: [3_600_000] };

/** A server-side lockout file with alice locked from two addresses and
 * 198.51.100.9 locked for every account (ten made-up names from it). */
async function lockedState(dir: string): Promise<Lockout> {
  const lockout = await Lockout.open(`${dir}/data/lockout.json`, {
    account: HOUR_LOCK,
    ip: HOUR_IP_LOCK,
  });
  for (const ip of ["192.0.2.1", "192.0.2.2"]) {
    for (let i = 0; i < 3; i++) await lockout.recordFailure("alice", ip);
  }
  for (let i = 0; i < 10; i++) await lockout.recordFailure(`guess${i}`, "198.51.100.9");
  return lockout;
}

Deno.test("user.ts unlock NAME lifts every lock naming the user and names the --address command for the address lock still in force", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const server = await lockedState(dir.path);
  const run = await cli(dir.path, ["unlock", "alice"]);
  equal(run.code, 0, run.stderr);
  deepEqual(run.stdout.split("\n"), [
    `Unlocked "alice" from 192.0.2.1 (1 h were left)`,
    `Unlocked "alice" from 192.0.2.2 (1 h were left)`,
    `Cleared the slow-down of "alice"`,
    `Still locked: every account, "alice" too, from 1 address(es):`,
    "  198.51.100.9 (1 h left): deno task user unlock --address 198.51.100.9",
    "",
  ]);
  await server.refresh();
  equal(server.status("alice", "192.0.2.1").locked, false);
  equal(server.status("alice", "192.0.2.2").locked, false);
  equal(server.delayMs("alice", "203.0.113.1"), 0, "the slow-down is lifted");
  equal(server.status("alice", "198.51.100.9").locked, true, "the address lock stays");
});

Deno.test("user.ts unlock --address IP lifts an address lock; an address given as a name is no user and gets the hint", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const server = await lockedState(dir.path);
  const asName = await cli(dir.path, ["unlock", "198.51.100.9"]);
  deepEqual([asName.code, asName.stdout, asName.stderr], [
    1,
    "",
    `user: Cannot unlock "198.51.100.9": no such user (for an address: deno task user unlock --address 198.51.100.9)\n`,
  ]);
  const run = await cli(dir.path, ["unlock", "--address", "198.51.100.9"]);
  deepEqual([run.code, run.stdout, run.stderr], [
    0,
    "Unlocked address 198.51.100.9 (1 h were left)\n",
    "",
  ]);
  await server.refresh();
  equal(server.status("alice", "198.51.100.9").locked, false);
  equal(server.status("alice", "192.0.2.1").locked, true, "alice's own locks stay");
  const again = await cli(dir.path, ["unlock", "--address", "198.51.100.9"]);
  equal(again.stdout, "198.51.100.9 had no failed logins\n");
  for (
    const args of [["unlock", "--address", "not-an-ip"], [
      "unlock",
      "alice",
      "--address",
      "192.0.2.1",
    ], [
      "unlock",
    ], ["list", "--address", "192.0.2.1"]]
  ) {
    const bad = await cli(dir.path, args);
    equal(bad.code, 2, args.join(" "));
  }
});

Deno.test("user.ts locks lists account and address locks and slow-downs with time left", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const none = await cli(dir.path, ["locks"]);
  deepEqual([none.code, none.stdout], [0, "No locks in force\n"]);
  await lockedState(dir.path);
  const run = await cli(dir.path, ["locks"]);
  equal(run.code, 0, run.stderr);
  deepEqual(run.stdout.split("\n").map((line) => line.split(/ {2,}/)), [
    ["LOCK", "NAME", "FROM", "TIME"],
    ["address", "(every account)", "198.51.100.9", "1 h left"],
    ["account", "alice", "192.0.2.1", "1 h left"],
    ["account", "alice", "192.0.2.2", "1 h left"],
    ["slowed", "alice", "(every address)", "checks 8 s apart"],
    [""],
  ]);
});

Deno.test("user.ts list shows a header, role, lock state, last login and sessions online, and says when the server is not running", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  await lockedState(dir.path);
  const rows = (stdout: string) => stdout.split("\n").map((line) => line.split(/ {2,}/));
  const never = await cli(dir.path, ["list"]);
  equal(never.code, 0, never.stderr);
  deepEqual(rows(never.stdout), [
    ["NAME", "ROLE", "LOCK", "LAST LOGIN", "ONLINE"],
    ["admin", "admin", "-", "never", "?"],
    ["alice", "user", "locked from 2 addresses (1 h), slowed (8 s)", "never", "?"],
    ["(server not running on this data directory: sessions online unknown)"],
    ["1 address lock(s) keep every account out from those addresses: deno task user locks"],
    [""],
  ]);
  const login = Date.UTC(2026, 0, 2, 3, 4);
  const activity = (running: boolean, updatedAt: number) =>
    Deno.writeTextFile(
      `${dir.path}/data/activity.json`,
      JSON.stringify({
        version: 1,
        running,
        updatedAt,
        online: { alice: 2 },
        lastLogin: { alice: login },
      }),
    );
  await activity(true, Date.now());
  const live = await cli(dir.path, ["list"]);
  deepEqual(rows(live.stdout).slice(1, 3), [
    ["admin", "admin", "-", "never", "0"],
    ["alice", "user", "locked from 2 addresses (1 h), slowed (8 s)", "2026-01-02 03:04 UTC", "2"],
  ]);
  const written = Date.now() - 3_600_000;
  await activity(true, written);
  const stale = await cli(dir.path, ["list"]);
  const stamp = new Date(written).toISOString();
  deepEqual(rows(stale.stdout).slice(2, 4).map((row) => row.at(-1)), [
    "?",
    `(server not running: sessions online unknown; activity last written ${stamp.slice(0, 10)} ${
      stamp.slice(11, 16)
    } UTC)`,
  ]);
});

Deno.test("user.ts refuses to remove or demote the last admin", async () => {
  await using dir = await tempDir();
  await seed(dir.path);
  const remove = await cli(dir.path, ["remove", "admin"]);
  deepEqual([remove.code, remove.stderr], [
    1,
    `user: Cannot remove user "admin": it is the last admin (make another user admin first)\n`,
  ]);
  const demote = await cli(dir.path, ["role", "admin", "user"]);
  deepEqual([demote.code, demote.stderr], [
    1,
    `user: Cannot make "admin" a user: it is the last admin (make another user admin first)\n`,
  ]);
  const promote = await cli(dir.path, ["role", "alice", "admin"]);
  deepEqual([promote.code, promote.stdout], [0, `Set role of "alice" to admin\n`]);
  const now = await cli(dir.path, ["role", "admin", "user"]);
  deepEqual([now.code, now.stdout], [0, `Set role of "admin" to user\n`]);
  const last = await cli(dir.path, ["remove", "alice"]);
  equal(last.code, 1);
  match(last.stderr, /last admin/);
  const store = await CredentialStore.open(`${dir.path}/credentials.json`, { hasher });
  deepEqual(store.list(), [{ name: "admin", role: "user" }, { name: "alice", role: "admin" }]);
});

Deno.test("user.ts reports bad usage with exit 2", async () => {
  await using dir = await tempDir();
  for (
    const args of [[], ["frob"], ["add"], ["list", "extra"], ["list", "--role", "admin"], [
      "list",
      "--bogus",
    ]]
  ) {
    const run = await cli(dir.path, args);
    equal(run.code, 2, args.join(" "));
    match(run.stderr, /^user: .*\nUsage: deno task user /);
  }
  const help = await cli(dir.path, ["--help"]);
  equal(help.code, 0);
  match(help.stdout, /^Usage: deno task user COMMAND /);
  equal(help.stdout.includes("scripts/user.ts"), false);
});
