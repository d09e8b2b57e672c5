/**
 * The launcher (`deno task server`, scripts/serve.ts) on a real copy of the
 * checkout: it refuses settings whose permissions would reach the server's
 * own code or the certificates' keys before anything starts, and a HUP or
 * QUIT sent to it (not to the server) reaches the server, so the server is
 * never orphaned, and the exit status is the shell's `128 + n`.
 *
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { copyCheckout } from "../_checkout.ts";
import { tempDir, within } from "../_helpers.ts";
import { PROCESS_MS } from "../_process.ts";
import { startTaskServer, type TaskServer } from "../_task_server.ts";

/** `deno task server` with `args` in `checkout`, asking no joke API. */
function taskServer(checkout: string, args: string[]): TaskServer {
  return startTaskServer(checkout, ["--joke-url=http://127.0.0.1:9/jokes/random", ...args]);
}

/** `ps` with `args`: its output lines (none when it matched nothing). */
async function ps(args: string[]): Promise<string[]> {
  const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter(Boolean);
}

/** The pids whose parent is `parent` and whose command line contains `needle`. */
async function childrenOf(parent: number, needle: string): Promise<number[]> {
  const lines = await ps(["-o", "pid=,args=", "--ppid", String(parent)]);
  return lines.filter((l) => l.includes(needle)).map((l) => Number(l.split(/\s+/)[0]));
}

/** Whether a process is running (not gone, not a zombie). */
async function running(pid: number): Promise<boolean> {
  const [stat] = await ps(["-o", "stat=", "-p", String(pid)]);
  return stat !== undefined && !stat.startsWith("Z");
}

Deno.test("deno task server --data . is refused before the server starts, saying what to use instead", async () => {
  await using dir = await tempDir();
  await copyCheckout(dir.path);
  const server = taskServer(dir.path, ["--data", "."]);
  const { stderr } = server;
  const status = await within(server.status, PROCESS_MS, "deno task server to exit").catch(
    async (error) => {
      await server.stop();
      throw error;
    },
  );
  await server.stop();
  equal(status.code, 2, stderr.text);
  ok(
    stderr.text.includes(
      `banter: Cannot start with --data .: write access to ${dir.path} would reach the server's own code (${dir.path}); use a directory outside the checkout`,
    ),
    stderr.text,
  );
  ok(!stderr.text.includes("Listening"), stderr.text);
  equal(
    await Deno.stat(join(dir.path, "certs")).catch(() => undefined),
    undefined,
    "no certs made",
  );
});

// SIGHUP stops the server cleanly (exit 0); SIGQUIT ends it at once.
for (const [signal, exit] of [["SIGHUP", 0], ["SIGQUIT", 128 + 3]] as const) {
  Deno.test(`${signal} sent to the launcher of deno task server reaches the server, and the task exits ${exit}`, async () => {
    await using dir = await tempDir();
    await copyCheckout(dir.path);
    const task = taskServer(dir.path, []);
    let launcher: number | undefined;
    let server: number | undefined;
    try {
      await task.port();
      [launcher] = await childrenOf(task.child.pid, "scripts/serve.ts");
      ok(launcher !== undefined, "the launcher is a child of deno task");
      [server] = await childrenOf(launcher, "server.ts");
      ok(server !== undefined, "the server is a child of the launcher");
      Deno.kill(launcher, signal);
      equal((await within(task.status, PROCESS_MS, "deno task server to exit")).code, exit);
      equal(await running(server), false, "the server is not left running");
    } finally {
      // Never leave an orphan holding the output pipes open.
      for (const pid of [server, launcher]) {
        if (pid !== undefined && await running(pid)) Deno.kill(pid, "SIGKILL");
      }
      await task.stop("SIGKILL");
    }
  });
}
