import { exists } from "../lib/util/exists.ts";
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serverPermissions } from "../lib/server/permissions.ts";
import { parseServerConfig } from "../lib/server/settings.ts";
import { copyCheckout } from "./_checkout.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

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

/** What scripts/compile.ts builds chat-server with for the default settings. */
function defaultServerFlags(): string[] {
  return serverPermissions(parseServerConfig([]).config, { cwd: ROOT });
}

Deno.test("the compile, server and client tasks grant explicit permissions, never -A; compiled binaries get the run tasks' own", async () => {
  const t = await tasks();
  for (const command of [t.compile, t.server, t.client]) {
    ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(command), command);
  }
  ok(t.compile.endsWith("scripts/compile.ts"), t.compile);
  ok(t.server.endsWith("scripts/serve.ts"), t.server);
  const server = defaultServerFlags();
  const allows = server.filter((flag) => flag.startsWith("--allow-"));
  ok(
    allows.every((flag) => !/^--allow-(all|run|ffi)/.test(flag) && flag.includes("=")),
    `${server}`,
  );
  ok(server.includes("--no-prompt"));
  // The client is compiled with the client task's flags, read from deno.json.
  ok(permissions(t.client).length > 0);
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
    const t = await tasks();
    const out = await Deno.makeTempDir({ prefix: "banter-compile-" });
    try {
      const builds = [
        ["chat-server", "server.ts", defaultServerFlags()],
        ["chat-client", "client.ts", permissions(t.client)],
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

/** `deno task compile` in a copy of the checkout with `env`; its output. */
async function compileTask(env: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "banter-compile-task-" });
  try {
    await copyCheckout(dir);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "compile"],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).output();
    const dist = await Deno.stat(join(dir, "dist")).then(() => true, () => false);
    const decoder = new TextDecoder();
    return { code: out.code, stderr: decoder.decode(out.stderr), dist };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task compile with DENORT_BIN naming no file says so in one line and leaves no dist/", async () => {
  const out = await compileTask({ DENORT_BIN: "/nonexistent/denort" });
  equal(out.code, 1);
  equal(
    out.stderr,
    `compile: Cannot build dist/chat-server: DENORT_BIN names no file (/nonexistent/denort); point it at an unpacked denort ${Deno.version.deno} for ${Deno.build.target}\n`,
  );
  equal(out.dist, false, "no empty dist/");
});

Deno.test({
  name:
    "deno task compile that cannot download denort says what it needs and how to provide it, in one line",
  // With denort at hand the build would succeed; the proxy keeps the test off the network.
  ignore: denortMissing === undefined || Deno.env.get("DENORT_BIN") !== undefined,
  fn: async () => {
    const out = await compileTask({
      HTTPS_PROXY: "http://127.0.0.1:9",
      HTTP_PROXY: "http://127.0.0.1:9",
    });
    equal(out.code, 1);
    const zip = `denort-${Deno.build.target}.zip`;
    equal(
      out.stderr,
      `compile: Cannot build dist/chat-server: deno compile needs denort, the Deno ${Deno.version.deno} runtime, and cannot download https://dl.deno.land/release/v${Deno.version.deno}/${zip}; fetch and unzip it where that host is reachable, then run: DENORT_BIN=/path/to/denort deno task compile\n`,
    );
    equal(out.dist, false, "no empty dist/");
  },
});
