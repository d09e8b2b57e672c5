/**
 * `deno task server`: the Banter chat server.
 *
 * @module
 */
import { ConfigError, helpText, settingsEnvironment } from "./lib/util/config.ts";
import { runConsole } from "./lib/server/console.ts";
import { consoleLogSink } from "./lib/server/console_log.ts";
import { setupLogging } from "./lib/util/log.ts";
import { startServer } from "./lib/server/app.ts";
import { parseServerConfig, SERVER_SETTINGS, type ServerConfig } from "./lib/server/settings.ts";
import { missingPermission, shellLine } from "./lib/util/permission_advice.ts";
import { TOOL_EXIT } from "./lib/util/exit_status.ts";

const USAGE = "Usage: deno task server [options]";

function consoleWanted(config: ServerConfig): boolean {
  return config.console === "on" ||
    (config.console === "auto" && Deno.stdin.isTerminal());
}

/**
 * The one line a failed start prints. A permission the process lacks (it
 * was started with narrower flags than its settings need) is named with the
 * flag that grants it and the command that starts it right.
 */
function startFailure(error: unknown, args: readonly string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const missing = missingPermission(error);
  if (missing === undefined) return message;
  const what = message.replace(/:?\s*Requires \w+ access to .*$/s, "") || "Cannot start";
  const given = args.length === 0 ? "" : ` ${shellLine(args)}`;
  const fix = Deno.build.standalone
    ? `rebuild it with: deno task compile${given} (it grants what the settings name), or add ${missing.flag} to its deno compile flags`
    : `start it with: deno task server${given} (it grants what the settings name), or add ${missing.flag} to deno run`;
  return `${what}: this process may not ${
    missing.kind === "net" ? "use the network at" : `${missing.kind}`
  } ${missing.target}; ${fix}`;
}

/** The signals that stop the server cleanly: sessions told, history and files flushed, exit 0. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const satisfies readonly Deno.Signal[];

/**
 * Run the server until SIGINT, SIGTERM, SIGHUP or an operator `/shutdown`.
 *
 * @param args Command-line arguments.
 * @returns Exit status ({@linkcode TOOL_EXIT}): `ok` after a clean stop or
 * `--help`, `usage` for bad settings, `failure` when it could not start.
 */
export async function main(args: string[]): Promise<number> {
  let config: ServerConfig;
  try {
    const parsed = parseServerConfig(
      args,
      settingsEnvironment(SERVER_SETTINGS, (name) => Deno.env.get(name)),
    );
    if (parsed.help) {
      console.log(helpText(USAGE, SERVER_SETTINGS));
      return TOOL_EXIT.ok;
    }
    config = parsed.config;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`banter: ${error.message}`);
      return TOOL_EXIT.usage;
    }
    throw error;
  }
  // With the console on a terminal, text log lines are printed above its
  // input line rather than into what the operator is typing.
  const consoleOnTerminal = consoleWanted(config) && Deno.stdin.isTerminal();
  const logs = consoleOnTerminal && config.logFormat !== "json" ? consoleLogSink() : undefined;
  const resetLogging = await setupLogging({
    format: config.logFormat,
    level: config.logLevel,
    ...(logs ? { sink: logs.sink } : {}),
  });
  // Listened for before the server starts: "Listening on" is logged
  // inside startServer, and a SIGTERM right after it must stop it cleanly
  // (exit 0), not kill it by the default action.
  const stop = new AbortController();
  let stopReason = "requested";
  // SIGHUP too: the terminal that started the server went away (an ssh
  // session closed); its default action would end the process unclean.
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      stopReason = signal;
      stop.abort();
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  const unlisten = () => listeners.forEach((remove) => remove());
  let server;
  try {
    server = await startServer(config);
  } catch (error) {
    unlisten();
    console.error(`banter: ${startFailure(error, args)}`);
    await resetLogging();
    return TOOL_EXIT.failure;
  }
  const consoleDone = consoleWanted(config)
    ? (() => {
      const interactive = Deno.stdin.isTerminal();
      if (interactive) Deno.stdin.setRaw(true);
      return runConsole(server.hub, {
        readable: Deno.stdin.readable,
        write: (bytes) => {
          Deno.stdout.writeSync(bytes);
        },
        interactive,
        colour: Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
        signal: stop.signal,
        columns: () => Deno.stdout.isTerminal() ? Deno.consoleSize().columns : undefined,
        ...(logs ? { logs } : {}),
        onResize: (redraw) => {
          Deno.addSignalListener("SIGWINCH", redraw);
          return () => Deno.removeSignalListener("SIGWINCH", redraw);
        },
      }).finally(() => {
        if (interactive) Deno.stdin.setRaw(false);
      });
    })()
    : undefined;
  // A signal may have come while the server was starting.
  const shutdownAsked = stop.signal.aborted ? Promise.resolve() : new Promise<void>((resolve) => {
    stop.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([shutdownAsked, server.closed]);
  await server.shutdown("Server shutting down", stopReason);
  stop.abort();
  await consoleDone;
  unlisten();
  await resetLogging();
  return TOOL_EXIT.ok;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
