/**
 * `deno task server`: start `server.ts` with the least privilege its
 * settings need. Reads the same flags, environment and config file as the
 * server, makes development certificates first when the default files are
 * missing (in `--certs-dir`, by `scripts/certs.ts` in its own process), then
 * runs the server with `--allow-read`, `--allow-write` and `--allow-net`
 * scoped to the paths and addresses configured (see
 * lib/server/permissions.ts). The console keeps the terminal (stdin, stdout
 * and stderr are inherited), SIGINT, SIGTERM, SIGHUP and SIGQUIT are
 * passed on (so `kill -HUP <launcher>` never orphans the server), and the
 * server's exit status is this one's (`128 + n` when signal n ended it).
 *
 * Itself it runs with `--allow-read` (config file, certificate files),
 * `--allow-env` for the settings and `--allow-run=deno`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { CERT_FILES } from "../lib/net/cert_files.ts";
import { ConfigError, settingsEnvironment } from "../lib/util/config.ts";
import { TOOL_EXIT } from "../lib/util/exit_status.ts";
import { exists } from "../lib/util/exists.ts";
import { signalNumber } from "../lib/util/signal_number.ts";
import { configFileOf, PermissionPathError, serverPermissions } from "../lib/server/permissions.ts";
import { parseServerConfig, SERVER_SETTINGS, type ServerConfig } from "../lib/server/settings.ts";

const SERVER = fileURLToPath(new URL("../server.ts", import.meta.url));
const CERTS = fileURLToPath(new URL("./certs.ts", import.meta.url));

/** Signals passed on to the server. */
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/** Run `deno` with `args`, terminal inherited, signals passed on; its exit status. */
async function runDeno(args: string[]): Promise<number> {
  const child = new Deno.Command("deno", {
    args,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const listeners = FORWARDED.map((signal) => {
    const pass = () => {
      try {
        child.kill(signal);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // it has exited already
      }
    };
    Deno.addSignalListener(signal, pass);
    return () => Deno.removeSignalListener(signal, pass);
  });
  try {
    const status = await child.status;
    return status.signal === null ? status.code : 128 + signalNumber(status.signal);
  } finally {
    for (const remove of listeners) remove();
  }
}

/** Make dev certificates in `certsDir` when the default files are missing;
 * the exit status of `scripts/certs.ts` ({@linkcode TOOL_EXIT}). */
async function devCertificates(config: ServerConfig): Promise<number> {
  if (config.cert !== undefined || config.key !== undefined) return TOOL_EXIT.ok;
  const dir = config.certsDir;
  if (
    await exists(join(dir, CERT_FILES.serverCert)) && await exists(join(dir, CERT_FILES.serverKey))
  ) {
    return TOOL_EXIT.ok;
  }
  return await runDeno([
    "run",
    "--no-prompt",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    CERTS,
    "--if-missing",
    "--dir",
    dir,
  ]);
}

/**
 * Start the server with the permissions its settings need.
 *
 * @param args The server's command-line arguments, passed on unchanged.
 * @returns The server's exit status (`TOOL_EXIT.usage` for settings it
 * cannot parse).
 */
export async function main(args: string[]): Promise<number> {
  const env = settingsEnvironment(SERVER_SETTINGS, (name) => Deno.env.get(name));
  let config: ServerConfig;
  let flags: string[];
  try {
    const parsed = parseServerConfig(args, env);
    config = parsed.config;
    flags = serverPermissions(config, { configFile: configFileOf(args, env) });
    if (!parsed.help) {
      const made = await devCertificates(config);
      if (made !== TOOL_EXIT.ok) return made;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PermissionPathError) {
      console.error(`banter: ${error.message}`);
      return TOOL_EXIT.usage;
    }
    throw error;
  }
  return await runDeno(["run", ...flags, SERVER, ...args]);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
