import { equal, ok } from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;

interface Tasks {
  server: string;
  client: string;
  compile: string;
}

async function tasks(): Promise<Tasks> {
  const json = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  return json.tasks;
}

/** The --allow-* flags of a command line. */
function permissions(command: string): string[] {
  return command.split(/\s+/).filter((w) => w.startsWith("--allow-")).sort();
}

Deno.test("compile task grants the run tasks' explicit permissions, never -A", async () => {
  const t = await tasks();
  const [serverPart, clientPart] = t.compile.split("&&");
  ok(serverPart?.includes("--output dist/chat-server server.ts"));
  ok(clientPart?.includes("--output dist/chat-client client.ts"));
  for (const command of [t.compile, t.server, t.client]) {
    ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(command), command);
  }
  equal(permissions(serverPart!).join(" "), permissions(t.server).join(" "));
  equal(permissions(clientPart!).join(" "), permissions(t.client).join(" "));
});

Deno.test("deno compile builds chat-server and chat-client (running them needs denort)", async (t) => {
  const tasksNow = await tasks();
  const out = await Deno.makeTempDir({ prefix: "banter-compile-" });
  try {
    const builds = [
      ["chat-server", "server.ts", permissions(tasksNow.server)],
      ["chat-client", "client.ts", permissions(tasksNow.client)],
    ] as const;
    let denortMissing: string | undefined;
    for (const [name, entry, flags] of builds) {
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["compile", ...flags, "--output", join(out, name), entry],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const text = new TextDecoder().decode(result.stderr);
      if (!result.success) {
        // Offline machines cannot download denort, the runtime base every
        // compiled binary is built on. Anything else is a real failure.
        ok(/Setting up base binary|denort/.test(text), text);
        denortMissing = text.split("\n").find((l) => l.includes("denort")) ?? text;
        break;
      }
    }
    await t.step({
      name: "the binaries answer --help",
      ignore: denortMissing !== undefined,
      fn: async () => {
        for (const [name] of builds) {
          const result = await new Deno.Command(join(out, name), {
            args: ["--help"],
            stdout: "piped",
            stderr: "piped",
          }).output();
          equal(result.code, 0, name);
          ok(new TextDecoder().decode(result.stdout).includes("Usage:"));
        }
      },
    });
    if (denortMissing !== undefined) {
      console.warn(
        `Skipped running the compiled binaries: deno compile cannot download denort here (${denortMissing.trim()})`,
      );
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
