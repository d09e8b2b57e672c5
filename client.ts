/**
 * `deno task client`: the Banter terminal client. Interactive on a terminal
 * (raw-mode line editor, input redrawn below incoming messages); scripted
 * when stdin is a pipe (each line is sent; exit 0 after `end`).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { ChatClient, type ClientIO, EXIT } from "./lib/client/run.ts";
import { type ClientFiles, readClientFiles } from "./lib/client/client_files.ts";
import {
  CLIENT_SETTINGS,
  type ClientConfig,
  DEFAULT_CA,
  parseClientConfig,
} from "./lib/client/settings.ts";
import type { ServerAddress } from "./lib/client/server_address.ts";
import { ConfigError, helpText, settingsEnvironment } from "./lib/util/config.ts";
import { systemClock, systemRandom } from "./lib/util/clock.ts";
import { ChatUi } from "./lib/client/chat_ui.ts";
import { readInput } from "./lib/terminal/input.ts";
import { shouldUseColour } from "./lib/terminal/render.ts";

const USAGE = `Usage: deno task client [options]

Type to chat; /help lists commands; end (or /quit) leaves.
Several servers (--host a --host b:9002): the first login tries each in turn,
and a lost connection reconnects to the next one; a refused login, a lock or
a ban ends it at once (the account is the same on every server).
Scripted: when stdin is not a terminal, each line is sent; exit status 0 after end.
Exit status: 0 ok, 1 connection or TLS failure, 2 usage, 3 login failed,
4 account locked, 5 kicked/banned/replaced, 6 protocol error,
7 server shut down (with --no-reconnect).`;

/** The terminal's width, or undefined when standard output is not a terminal. */
function terminalColumns(): number | undefined {
  return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : undefined;
}

/**
 * Run the client.
 *
 * @param args Command-line arguments.
 * @returns Exit status.
 */
export async function main(args: string[]): Promise<number> {
  let config: ClientConfig;
  let servers: ServerAddress[];
  try {
    const env = settingsEnvironment(CLIENT_SETTINGS, (name) => Deno.env.get(name));
    const parsed = parseClientConfig(args, env);
    if (parsed.help) {
      console.log(helpText(USAGE, CLIENT_SETTINGS));
      return EXIT.ok;
    }
    config = parsed.config;
    servers = parsed.servers;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`banter-client: ${error.message}`);
      return EXIT.usage;
    }
    throw error;
  }
  let files: ClientFiles;
  try {
    files = await readClientFiles({
      ca: config.ca ?? (existsSync(DEFAULT_CA) ? DEFAULT_CA : undefined),
      cert: config.cert,
      key: config.key,
      passwordFile: config.passwordFile,
    }, { warn: (text) => console.error(`banter-client: ${text}`) });
  } catch (error) {
    // ClientFileError names the flag; anything else is still one line, no trace.
    console.error(`banter-client: ${error instanceof Error ? error.message : error}`);
    return EXIT.usage;
  }
  const { caCerts, cert, key } = files;
  const password = files.password ?? (Deno.env.get("BANTER_PASSWORD") || undefined);

  const interactive = Deno.stdin.isTerminal();
  const colour = shouldUseColour({
    isTerminal: Deno.stdout.isTerminal(),
    env: Object.fromEntries(
      ["NO_COLOR", "TERM"].flatMap((name) => {
        const value = Deno.env.get(name);
        return value === undefined ? [] : [[name, value]];
      }),
    ),
  });
  const encoder = new TextEncoder();
  const write = (bytes: Uint8Array) => {
    Deno.stdout.writeSync(bytes);
  };
  const ui = new ChatUi({
    write,
    interactive,
    colour,
    bell: config.bell,
    columns: terminalColumns,
    rows: () => Deno.stdout.isTerminal() ? Deno.consoleSize().rows : 24,
    clock: systemClock,
  });
  const io: ClientIO = ui;
  const client = new ChatClient({
    connect: {
      hostname: servers[0]?.hostname ?? "127.0.0.1",
      port: servers[0]?.port ?? config.port,
      ...(caCerts ? { caCerts } : {}),
      ...(cert && key ? { cert, key } : {}),
    },
    servers,
    io,
    random: systemRandom,
    ...(config.user !== undefined ? { username: config.user } : {}),
    ...(password !== undefined ? { password } : {}),
    reconnect: config.reconnect,
    maxReconnects: config.maxReconnects,
  });
  ui.attach(client);

  // Bracketed paste and focus reports on; redraw at once on resize.
  const TERMINAL_MODES_ON = "\x1b[?2004h\x1b[?1004h";
  const TERMINAL_MODES_OFF = "\x1b[?1004l\x1b[?2004l";
  const onResize = () => ui.resized();
  if (interactive) {
    Deno.stdin.setRaw(true);
    write(encoder.encode(TERMINAL_MODES_ON));
    Deno.addSignalListener("SIGWINCH", onResize);
  }
  const stopInput = new AbortController();
  const input = readInput({
    readable: Deno.stdin.readable,
    interactive,
    editor: ui.editor,
    screen: ui.screen,
    signal: stopInput.signal,
    onLine: (line) => ui.line(line),
    onInterrupt: () => ui.interrupt(),
    onAction: (action) => ui.action(action),
  }).then((ended) => {
    // End of input: answer a pending prompt, then leave cleanly.
    if (ended) ui.ended();
  });
  let status: number;
  try {
    status = await client.run();
  } finally {
    stopInput.abort();
    if (interactive) {
      Deno.removeSignalListener("SIGWINCH", onResize);
      ui.screen.clearInput();
      write(encoder.encode(TERMINAL_MODES_OFF));
      Deno.stdin.setRaw(false);
    }
  }
  await input;
  return status;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
