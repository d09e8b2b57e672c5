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

const USAGE = "Usage: deno task server [options]";

function consoleWanted(config: ServerConfig): boolean {
  return config.console === "on" ||
    (config.console === "auto" && Deno.stdin.isTerminal());
}

/**
 * Run the server until SIGINT/SIGTERM or an operator `/shutdown`.
 *
 * @param args Command-line arguments.
 * @returns Exit status.
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
      return 0;
    }
    config = parsed.config;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`banter: ${error.message}`);
      return 2;
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
  let server;
  try {
    server = await startServer(config);
  } catch (error) {
    console.error(`banter: ${error instanceof Error ? error.message : error}`);
    await resetLogging();
    return 1;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
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
  const shutdownAsked = new Promise<void>((resolve) => {
    stop.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([shutdownAsked, server.closed]);
  await server.shutdown("Server shutting down");
  stop.abort();
  await consoleDone;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  await resetLogging();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
