/**
 * `deno task compile [server settings...]`: build `dist/chat-server` and
 * `dist/chat-client` with explicit permissions, never `-A`. The server's are
 * derived from the server settings given (the defaults when none), the way
 * `deno task server` derives them, so `deno task compile --data /srv/banter`
 * builds a server that may write `/srv/banter`; the client's are the client
 * task's own flags from deno.json.
 *
 * `deno compile` builds on denort, Deno's runtime binary, which it downloads
 * from Deno's host unless `DENORT_BIN` names a copy. When it cannot, this
 * says so in one line, with how to provide it, and leaves no empty `dist/`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ConfigError, settingsEnvironment } from "../lib/util/config.ts";
import { configFileOf, PermissionPathError, serverPermissions } from "../lib/server/permissions.ts";
import { parseServerConfig, SERVER_SETTINGS } from "../lib/server/settings.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");

/** The `--allow-*`/`--deny-*` flags of a deno.json task. */
async function taskFlags(name: string): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const task = json.tasks?.[name];
  const command: string = typeof task === "string" ? task : task?.command ?? "";
  return command.split(/\s+/).filter((word) => /^--(allow|deny)-/.test(word));
}

/** What a failed `deno compile` printed, as the one line to show. */
function compileFailure(output: string, name: string): string | undefined {
  const bin = Deno.env.get("DENORT_BIN");
  if (/Could not find denort/.test(output) && bin !== undefined) {
    return `compile: Cannot build dist/${name}: DENORT_BIN names no file (${bin}); point it at an unpacked denort ${Deno.version.deno} for ${Deno.build.target}`;
  }
  if (!/Setting up base binary|denort/.test(output)) return undefined;
  const zip = `denort-${Deno.build.target}.zip`;
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/${zip}`;
  return `compile: Cannot build dist/${name}: deno compile needs denort, the Deno ${Deno.version.deno} runtime, and cannot download ${url}; fetch and unzip it where that host is reachable, then run: DENORT_BIN=/path/to/denort deno task compile`;
}

/** Remove `dist/` when this run made it and it is still empty. */
async function removeEmptyDist(existed: boolean): Promise<void> {
  if (existed) return;
  try {
    for await (const _ of Deno.readDir(DIST)) return; // something in it: keep it
    await Deno.remove(DIST);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Build both binaries.
 *
 * @param args Server settings to derive the server's permissions from.
 * @returns Exit status.
 */
export async function main(args: string[]): Promise<number> {
  let serverFlags: string[];
  try {
    const env = settingsEnvironment(SERVER_SETTINGS, (name) => Deno.env.get(name));
    serverFlags = serverPermissions(parseServerConfig(args, env).config, {
      cwd: ROOT,
      configFile: configFileOf(args, env),
    });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PermissionPathError) {
      console.error(`compile: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const existed = await Deno.stat(DIST).then(() => true, () => false);
  const builds = [
    ["chat-server", "server.ts", [...serverFlags, "--include", "web/dist"]],
    ["chat-client", "client.ts", await taskFlags("client")],
  ] as const;
  for (const [name, entry, flags] of builds) {
    const out = await new Deno.Command("deno", {
      args: ["compile", ...flags, "--output", join("dist", name), entry],
      cwd: ROOT,
      stdin: "null",
      stdout: "inherit",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    if (out.success) {
      await Deno.stderr.write(out.stderr);
      continue;
    }
    const line = compileFailure(stderr, name);
    if (line === undefined) await Deno.stderr.write(out.stderr);
    else console.error(line);
    await removeEmptyDist(existed);
    return out.code || 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
