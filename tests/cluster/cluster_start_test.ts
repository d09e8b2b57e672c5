/**
 * `--cluster` at start, as an operator sees it: the real server process, a
 * real nats-server (or none), one line on stderr and the exit status.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../_helpers.ts";
import { Output, PROCESS_MS, spawnServerProcess } from "../_process.ts";
import { startNats } from "../_nats.ts";
import { within } from "../_helpers.ts";
import { serverPermissions } from "../../lib/server/permissions.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { writeTestCerts } from "../_server.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Run the server to its end; its status and stderr. */
async function runToEnd(dir: string, args: string[]): Promise<{ code: number; stderr: string }> {
  await using server = spawnServerProcess(dir, { args });
  const status = await within(server.status, PROCESS_MS, "the server to exit");
  await server.stderr.done;
  return { code: status.code, stderr: server.stderr.text };
}

/** No stack trace, no log noise: the one line is all. */
function assertOneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  equal(lines.length, 1, stderr);
  ok(!/^\s+at /m.test(stderr), stderr);
  return lines[0]!;
}

Deno.test("an unreachable cluster at start is one clear line and a non-zero exit", async () => {
  await using dir = await tempDir();
  const port = closedPort();
  const { code, stderr } = await runToEnd(dir.path, [`--cluster=nats://127.0.0.1:${port}`]);
  equal(code, 1);
  equal(
    assertOneLine(stderr),
    `banter: Cannot connect to the cluster at nats://127.0.0.1:${port}: connection refused`,
  );
  // Nothing local was created: the cluster is reached first.
  equal(await Deno.stat(join(dir.path, "data")).then(() => true, () => false), false);
});

Deno.test("an unreadable cluster creds file is named, its content never shown", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  const { code, stderr } = await runToEnd(dir.path, [
    `--cluster=${nats.url}`,
    `--cluster-creds=${join(dir.path, "missing.creds")}`,
  ]);
  equal(code, 1);
  equal(
    assertOneLine(stderr),
    `banter: Cannot read the cluster credentials file ${
      join(dir.path, "missing.creds")
    }: no such file`,
  );
});

Deno.test("a reachable cluster, with the launcher's permissions, is joined: the server listens, /healthz names the link, SIGTERM stops it", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  const certs = join(dir.path, "certs");
  await writeTestCerts(dir.path);
  const httpPort = closedPort();
  const args = [
    `--cluster=${nats.url}`,
    `--certs-dir=${certs}`,
    `--data=${join(dir.path, "data")}`,
    "--port=0",
    `--http-port=${httpPort}`,
    "--web-port=0",
    "--console=off",
  ];
  const { config } = parseServerConfig(args);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...serverPermissions(config, { cwd: dir.path }),
      join(REPO, "server.ts"),
      ...args,
    ],
    cwd: dir.path,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = new Output(child.stdout, child.stderr);
  try {
    await output.waitFor(/Serving \/healthz and \/metrics/, PROCESS_MS);
    await output.waitFor(/Listening on/, PROCESS_MS);
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    equal(health.status, 200);
    equal(await health.text(), "ok\nnats: up\n");
  } finally {
    child.kill("SIGTERM");
  }
  const status = await within(child.status, PROCESS_MS, "the server to exit");
  await output.done;
  equal(status.code, 0, output.text);
  // The embedded history was never made: the local copy of the stream is its own file.
  equal(await Deno.stat(join(dir.path, "data", "history.db")).then(() => true, () => false), false);
  ok(await Deno.stat(join(dir.path, "data", "cluster-copy.db")).then(() => true, () => false));
});
