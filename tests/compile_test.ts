import { exists } from "../lib/util/exists.ts";
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;

interface Tasks {
  server: string;
  client: string;
  compile: string;
}

/** A task's command line, whether written as a string or as `{ command, dependencies }`. */
function commandOf(task: unknown): string {
  if (typeof task === "string") return task;
  const command = (task as { command?: unknown } | undefined)?.command;
  ok(typeof command === "string", `not a task: ${JSON.stringify(task)}`);
  return command;
}

async function tasks(): Promise<Tasks> {
  const json = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  return {
    server: commandOf(json.tasks.server),
    client: commandOf(json.tasks.client),
    compile: commandOf(json.tasks.compile),
  };
}

/** The --allow-* and --deny-* flags of a command line. */
function permissions(command: string): string[] {
  return command.split(/\s+/).filter((w) => /^--(allow|deny)-/.test(w)).sort();
}

/** The server and client halves of the compile task. */
function compileParts(compile: string): { server: string; client: string } {
  const [server = "", client = ""] = compile.split("&&");
  ok(server.includes("--output dist/chat-server server.ts"), compile);
  ok(client.includes("--output dist/chat-client client.ts"), compile);
  return { server, client };
}

Deno.test("compile task grants the run tasks' explicit permissions, never -A", async () => {
  const t = await tasks();
  const parts = compileParts(t.compile);
  for (const command of [t.compile, t.server, t.client]) {
    ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(command), command);
  }
  equal(permissions(parts.server).join(" "), permissions(t.server).join(" "));
  equal(permissions(parts.client).join(" "), permissions(t.client).join(" "));
});

/**
 * Why `deno compile` cannot get denort (the runtime every compiled binary is
 * built on) here, or `undefined` when it can: DENORT_BIN names a file or the
 * download is cached in DENO_DIR. Tests never reach for the network, so a
 * machine that could download it but has not yet says so in the skip reason.
 */
async function denortUnavailable(): Promise<string | undefined> {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin !== undefined) {
    return await exists(bin) ? undefined : `DENORT_BIN names no file (${bin})`;
  }
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).output();
  ok(info.success, "deno info --json failed");
  const { denoDir } = JSON.parse(new TextDecoder().decode(info.stdout)) as { denoDir: string };
  const zip = `denort-${Deno.build.target}.zip`;
  if (await exists(join(denoDir, "dl", "release", `v${Deno.version.deno}`, zip))) return undefined;
  return "denort is neither in DENO_DIR nor named by DENORT_BIN; `deno task compile` fetches it where Deno's download host is reachable";
}

const denortMissing = await denortUnavailable();

Deno.test({
  name: denortMissing === undefined
    ? "compiled chat-server and chat-client build and answer --help"
    : `compiled binaries run (skipped: ${denortMissing})`,
  ignore: denortMissing !== undefined,
  fn: async () => {
    const parts = compileParts((await tasks()).compile);
    const out = await Deno.makeTempDir({ prefix: "banter-compile-" });
    try {
      const builds = [
        ["chat-server", "server.ts", permissions(parts.server)],
        ["chat-client", "client.ts", permissions(parts.client)],
      ] as const;
      for (const [name, entry, flags] of builds) {
        const result = await new Deno.Command(Deno.execPath(), {
          args: ["compile", ...flags, "--output", join(out, name), entry],
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
        ok(result.success, new TextDecoder().decode(result.stderr));
      }
      for (const [name] of builds) {
        const result = await new Deno.Command(join(out, name), {
          args: ["--help"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        equal(result.code, 0, name);
        ok(new TextDecoder().decode(result.stdout).includes("Usage:"), name);
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
