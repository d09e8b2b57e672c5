/**
 * Least privilege: what the server process may touch when started with
 * `deno task server`'s exact flags (read from deno.json). A probe script
 * run with those flags tries, for real, to rewrite the server's source and
 * config, read the CA key and the client keys, and use its own files; then
 * `deno task server` itself runs on a fresh copy of the checkout: dev
 * certificates come from their own step, the server serves, and /metrics
 * shows the free disk space.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { tempDir, TestClient, within } from "../_helpers.ts";
import { Output, PROCESS_MS } from "../_process.ts";
import { writeTestCerts } from "../_server.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** The server task's command line from deno.json. */
async function serverTask(): Promise<string> {
  const json = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  const task = json.tasks.server;
  return typeof task === "string" ? task : task.command;
}

/** The flags `deno task server` gives `deno run`, exactly as written. */
async function serverFlags(): Promise<string[]> {
  const words = (await serverTask()).split(/\s+/);
  equal(words.slice(0, 2).join(" "), "deno run");
  equal(words.at(-1), "server.ts");
  return words.slice(2, -1);
}

/** Tries each operation for real and reports "ok" or the error's name. */
const PROBE = `
const results = {};
async function attempt(name, op) {
  try { await op(); results[name] = "ok"; } catch (e) { results[name] = e.name; }
}
await attempt("read certs/ca.key", () => Deno.readTextFile("certs/ca.key"));
await attempt("read certs/client_key.pem", () => Deno.readTextFile("certs/client_key.pem"));
await attempt("read certs/server_key.pem", () => Deno.readTextFile("certs/server_key.pem"));
await attempt("read data/credentials.json", () => Deno.readTextFile("data/credentials.json"));
await attempt("write server.ts", () => Deno.writeTextFile("server.ts", "// rewritten"));
await attempt("write deno.json", () => Deno.writeTextFile("deno.json", "{}"));
await attempt("write lib/server/app.ts", () => Deno.writeTextFile("lib/server/app.ts", ""));
await attempt("write certs/ca.crt", () => Deno.writeTextFile("certs/ca.crt", ""));
await attempt("write ./credentials.json", () => Deno.writeTextFile("credentials.json", "{}"));
await attempt("write data/credentials.json", () => Deno.writeTextFile("data/credentials.json", "{}"));
await attempt("run a program", () => new Deno.Command("true").output());
const repo = Deno.args[0];
results["query write of the real server.ts"] =
  (await Deno.permissions.query({ name: "write", path: repo + "/server.ts" })).state;
results["query read of the real certs/ca.key"] =
  (await Deno.permissions.query({ name: "read", path: repo + "/certs/ca.key" })).state;
console.log(JSON.stringify(results));
`;

Deno.test("with deno task server's flags the process cannot rewrite source or config, read the CA or client keys, or run programs; it can use data/", async () => {
  await using dir = await tempDir();
  const files = {
    "certs/ca.key": "CA KEY",
    "certs/client_key.pem": "CLIENT KEY",
    "certs/server_key.pem": "SERVER KEY",
    "certs/ca.crt": "CA CERT",
    "server.ts": "// the server",
    "deno.json": "{}",
    "lib/server/app.ts": "// the app",
    "data/credentials.json": "{}",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir.path, dirname(name)), { recursive: true });
    await Deno.writeTextFile(join(dir.path, name), text);
  }
  await Deno.writeTextFile(join(dir.path, "probe.js"), PROBE);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...await serverFlags(), "probe.js", REPO],
    cwd: dir.path,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    "read certs/ca.key": "NotCapable",
    "read certs/client_key.pem": "NotCapable",
    "read certs/server_key.pem": "ok",
    "read data/credentials.json": "ok",
    "write server.ts": "NotCapable",
    "write deno.json": "NotCapable",
    "write lib/server/app.ts": "NotCapable",
    "write certs/ca.crt": "NotCapable",
    "write ./credentials.json": "NotCapable",
    "write data/credentials.json": "ok",
    "run a program": "NotCapable",
    "query write of the real server.ts": "prompt",
    "query read of the real certs/ca.key": "prompt",
  });
  for (const name of ["server.ts", "deno.json", "lib/server/app.ts", "certs/ca.crt"] as const) {
    equal(await Deno.readTextFile(join(dir.path, name)), files[name], `${name} is unchanged`);
  }
});

/** Run server.ts in `cwd` with the server task's exact flags; its output once it exits. */
async function serverExit(cwd: string): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...await serverFlags(), join(REPO, "server.ts"), "--console=off"],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  return await within(child.output(), PROCESS_MS, "the server to exit").catch((error) => {
    child.kill("SIGKILL");
    throw error;
  });
}

Deno.test("started with the task's flags and no certificates, the server exits saying what to run", async () => {
  await using dir = await tempDir();
  const out = await serverExit(dir.path);
  equal(out.code, 1);
  const stderr = new TextDecoder().decode(out.stderr);
  ok(
    stderr.includes(
      "Create development certificates with: deno task certs --dir certs (or give --cert and --key)",
    ),
    stderr,
  );
  equal([...Deno.readDirSync(dir.path)].length, 0, "it wrote nothing");
});

Deno.test("accounts left in ./credentials.json by an earlier version stop the start with the mv to run, and no fresh admin is made", async () => {
  await using dir = await tempDir();
  await writeTestCerts(dir.path);
  await Deno.writeTextFile(join(dir.path, "credentials.json"), "{}", { mode: 0o600 });
  const out = await serverExit(dir.path);
  equal(out.code, 1);
  equal(
    new TextDecoder().decode(out.stderr),
    "banter: Cannot open data/credentials.json: accounts are still in credentials.json, where earlier versions kept them; move them with: mv credentials.json data/credentials.json\n",
  );
  deepEqual([...Deno.readDirSync(join(dir.path, "data"))], [], "no new credentials file");
});

/** Copy the checkout's files (tracked and new, not ignored) into `to`. */
async function copyCheckout(to: string): Promise<void> {
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: REPO,
    stdout: "piped",
  }).output();
  ok(listed.success);
  for (const name of new TextDecoder().decode(listed.stdout).split("\0")) {
    if (name === "" || name.startsWith("certs/") || name.startsWith("data/")) continue;
    const from = join(REPO, name);
    if (!(await Deno.lstat(from).catch(() => undefined))?.isFile) continue; // deleted, not committed
    await Deno.mkdir(join(to, dirname(name)), { recursive: true });
    await Deno.copyFile(from, join(to, name));
  }
}

/** A port nothing listens on just now, for the ops endpoint (0 turns it off). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("deno task server on a fresh checkout makes dev certificates in its own step, serves, and exports free disk space", async () => {
  await using dir = await tempDir();
  await copyCheckout(dir.path);
  const httpPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "server",
      "--port=0",
      `--http-port=${httpPort}`,
      "--console=off",
      "--scrypt-log-n=10",
      "--joke-url=http://127.0.0.1:9/jokes/random",
      `--disk-free-warn-bytes=${Number.MAX_SAFE_INTEGER}`,
    ],
    cwd: dir.path,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    const port = Number((await stderr.waitFor(/Listening on .*:(\d+)/, PROCESS_MS))[1]);
    await stdout.waitFor(/Created a dev CA and server certificate in certs\//);
    const [, password] = await stdout.waitFor(/password: (\S+)/);
    await stderr.waitFor(/Low disk space: \d+ bytes free/);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const free = Number(metrics.match(/^banter_data_free_bytes (\d+)$/m)?.[1]);
    ok(free > 0, metrics);
    await using admin = await TestClient.connect(port, {
      ca: await Deno.readTextFile(join(dir.path, "certs", CERT_FILES.caCert)),
    });
    equal((await admin.login("admin", password!)).type, "welcome");
  } finally {
    if (!exited) child.kill("SIGTERM");
    await within(status, PROCESS_MS, "deno task server to exit");
    await Promise.all([stdout.done, stderr.done]);
  }
  equal((await status).code, 0, stderr.text);
  ok(!/Cannot measure free space|is not watched/.test(stderr.text), stderr.text);
});
