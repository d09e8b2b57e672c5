/**
 * Least privilege: what the server process may touch when started with the
 * flags `deno task server` (scripts/serve.ts) derives for the default
 * settings. A probe script run with those flags tries, for real, to rewrite
 * the server's source and config, read the CA key and the client keys, and
 * use its own files; then `deno task server` itself runs on a fresh copy of
 * the checkout: dev certificates come from their own step, the server
 * serves, and /metrics shows the free disk space; with the data and
 * certificates elsewhere it is granted exactly those. A process started
 * without a permission its settings need says which flag and command fix it.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { tempDir, TestClient, within } from "../_helpers.ts";
import { PROCESS_MS } from "../_process.ts";
import { writeTestCerts } from "../_server.ts";
import { startTaskServer } from "../_task_server.ts";
import { copyCheckout } from "../_checkout.ts";
import { serverPermissions } from "../../lib/server/permissions.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The flags `deno task server` (scripts/serve.ts) runs server.ts with for
 * the default settings.
 */
function serverFlags(cwd: string): string[] {
  return serverPermissions(parseServerConfig([]).config, { cwd });
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
    args: ["run", ...serverFlags(dir.path), "probe.js", REPO],
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

/**
 * Run server.ts in `cwd` with the server task's flags for the default
 * settings (what a binary compiled with them has) and `args`; its output
 * once it exits.
 */
async function serverExit(cwd: string, args: string[] = []): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverFlags(cwd), join(REPO, "server.ts"), "--console=off", ...args],
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
  const server = startTaskServer(dir.path, [
    "--joke-url=http://127.0.0.1:9/jokes/random",
    `--disk-free-warn-bytes=${Number.MAX_SAFE_INTEGER}`,
  ], { httpPort });
  const { stdout, stderr } = server;
  try {
    const port = await server.port();
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
    await server.stop();
  }
  equal((await server.status).code, 0, stderr.text);
  ok(!/Cannot measure free space|is not watched/.test(stderr.text), stderr.text);
});

Deno.test("deno task server with --data, --certs-dir and --hostname elsewhere is granted exactly those, serves, and stops on SIGTERM", async () => {
  await using dir = await tempDir();
  const checkout = join(dir.path, "checkout");
  await copyCheckout(checkout);
  const data = join(dir.path, "srv", "banter");
  const certs = join(dir.path, "etc", "certs");
  const server = startTaskServer(checkout, [
    `--data=${data}`,
    `--certs-dir=${certs}`,
    "--hostname=0.0.0.0",
    "--joke-url=http://127.0.0.1:9/jokes/random",
  ]);
  try {
    const port = await server.port();
    await server.stdout.waitFor(new RegExp(`Created a dev CA and server certificate in ${certs}/`));
    const [, password] = await server.stdout.waitFor(/password: (\S+)/);
    await using admin = await TestClient.connect(port, {
      ca: await Deno.readTextFile(join(certs, CERT_FILES.caCert)),
    });
    equal((await admin.login("admin", password!)).type, "welcome");
  } finally {
    const status = await server.stop();
    equal(status.code, 0, server.stderr.text);
  }
  ok(server.stderr.text.includes("Shutting down (SIGTERM)"), server.stderr.text);
  ok(!/NotCapable|Requires \w+ access/.test(server.stderr.text), server.stderr.text);
  ok((await Deno.stat(join(data, "credentials.json"))).isFile);
  for (const name of ["certs", "data"]) {
    equal(await Deno.stat(join(checkout, name)).catch(() => undefined), undefined, `no ${name}/`);
  }
});

Deno.test("a server without the permission its settings need says which flag to add and the command that grants it", async () => {
  await using dir = await tempDir();
  await writeTestCerts(dir.path);
  const data = join(dir.path, "srv", "banter");
  const cases = [
    [
      ["--data", data],
      `banter: Cannot start: this process may not write ${data}; start it with: deno task server --console=off --data ${data} (it grants what the settings name), or add --allow-write=${data} to deno run\n`,
    ],
    [
      ["--hostname", "192.0.2.1", "--port", "24101"],
      "banter: Cannot listen on 192.0.2.1:24101: this process may not use the network at 192.0.2.1:24101; start it with: deno task server --console=off --hostname 192.0.2.1 --port 24101 (it grants what the settings name), or add --allow-net=192.0.2.1 to deno run\n",
    ],
  ] as const;
  for (const [args, expected] of cases) {
    const out = await serverExit(dir.path, [...args]);
    equal(out.code, 1);
    equal(new TextDecoder().decode(out.stderr), expected);
  }
  equal(await Deno.stat(data).catch(() => undefined), undefined, "nothing was made");
});

Deno.test("deno task certs --dir elsewhere names the exact command, and that command writes the certificates", async () => {
  await using dir = await tempDir();
  const elsewhere = join(dir.path, "elsewhere");
  const task = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "certs", "--dir", elsewhere],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  equal(task.code, 1);
  const stderr = new TextDecoder().decode(task.stderr);
  const command =
    `deno run --allow-read=${elsewhere} --allow-write=${elsewhere} scripts/certs.ts --dir ${elsewhere}`;
  equal(
    stderr,
    `certs: Cannot write ${elsewhere}: this process may only use what its --allow-read and --allow-write name (deno task certs: certs/); run instead: ${command}\n`,
  );
  const [, ...args] = command.split(" ");
  const again = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(again.code, 0, new TextDecoder().decode(again.stderr));
  ok((await Deno.stat(join(elsewhere, CERT_FILES.serverCert))).isFile);
});
