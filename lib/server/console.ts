/**
 * The server operator's console: the original design's server-side chat
 * participant. It enters the hub as role `operator`, shows room traffic and
 * reads what the operator types (moderation commands included). On a
 * terminal it has the client's line editor (Tab completes nicks, commands
 * and rooms), a `[#room] operator> ` prompt and a status line, redrawn on
 * resize; log lines are printed above the input line
 * ({@linkcode ConsoleOptions.logs}); Ctrl-D asks before it closes.
 *
 * @module
 */
import type { Hub } from "../chat/hub.ts";
import type { ChatEvent, CloseReason, Member } from "../chat/message.ts";
import { Completer, KNOWN_COMMANDS } from "../terminal/completion.ts";
import { readInput } from "../terminal/input.ts";
import { LineEditor } from "../terminal/line_editor.ts";
import { renderEvent } from "../terminal/render.ts";
import { Screen } from "../terminal/screen.ts";
import { renderPrompt, renderStatus } from "../terminal/status_line.ts";
import type { ConsoleLogSink } from "./console_log.ts";

/** The operator's name in the chat. */
export const OPERATOR_NAME = "operator";

/** Asked on Ctrl-D before the console closes. */
export const CLOSE_QUESTION = "Close the console? The server keeps running. [y/N] ";

/** Printed once the operator closed the console. */
export const CONSOLE_OFF = "Console off: the server keeps running; Ctrl-C or SIGTERM stops it";

/** Options for {@linkcode runConsole}. */
export interface ConsoleOptions {
  /** Operator input. */
  readable: ReadableStream<Uint8Array>;
  /** Where the console prints. */
  write: (bytes: Uint8Array) => void;
  /** Raw-mode editing (stdin is a terminal). */
  interactive: boolean;
  /** Colour output. */
  colour: boolean;
  /** Stops the console. */
  signal?: AbortSignal;
  /** The terminal's width, when known. */
  columns?: () => number | undefined;
  /** The server's log sink, printed above the input line while the console runs. */
  logs?: ConsoleLogSink;
  /**
   * Calls `redraw` whenever the terminal is resized (SIGWINCH).
   *
   * @returns A function that stops calling it.
   */
  onResize?: (redraw: () => void) => () => void;
}

/** Commands the operator may complete with Tab. */
const OPERATOR_COMMANDS = KNOWN_COMMANDS.filter((c) => c !== "quit");

/**
 * Run the operator console until input ends, the operator types `end`, or
 * `signal` aborts.
 *
 * @param hub The chat hub.
 * @param options Streams and display.
 */
export async function runConsole(
  hub: Hub,
  options: ConsoleOptions,
): Promise<void> {
  let room: string | undefined;
  let asking = false;
  const view = () => ({
    self: OPERATOR_NAME,
    current: room,
    others: [],
    away: false,
    connection: "connected",
  });
  const screen = new Screen(options.write, {
    interactive: options.interactive,
    prompt: renderPrompt(view()),
    ...(options.columns ? { columns: options.columns } : {}),
    status: (columns) => renderStatus(view(), columns),
  });
  const editor = new LineEditor();
  const stopped = new AbortController();
  let closedByOperator = false;
  const render = { self: OPERATOR_NAME, colour: options.colour };
  const member: Member = {
    name: OPERATOR_NAME,
    role: "operator",
    deliver(event: ChatEvent) {
      if (event.kind === "room") room = event.room;
      const columns = options.interactive ? options.columns?.() : undefined;
      screen.print(renderEvent(event, columns === undefined ? render : { ...render, columns }));
      if (event.kind === "room" && !asking) screen.setPrompt(renderPrompt(view()));
    },
    close(reason: CloseReason) {
      screen.print([`-- console closed: ${reason.message}`]);
      queueMicrotask(() => stopped.abort());
    },
  };
  const detachLogs = options.interactive
    ? options.logs?.attach((lines) => screen.print(lines))
    : undefined;
  const stopResize = options.interactive ? options.onResize?.(() => screen.redraw()) : undefined;
  const completer = new Completer();
  const presence = hub.enter(member);
  screen.updateInput(editor);
  screen.redraw();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopped.signal])
    : stopped.signal;
  try {
    await readInput({
      readable: options.readable,
      interactive: options.interactive,
      editor,
      screen,
      signal,
      onLine: (line) => {
        if (!asking) return presence.input(line);
        asking = false;
        screen.setPrompt(renderPrompt(view()));
        if (/^y(es)?$/i.test(line.trim())) {
          closedByOperator = true;
          return false;
        }
      },
      onInterrupt: () => presence.input("/shutdown"),
      onEof: () => {
        if (asking) { // Ctrl-D again: yes
          closedByOperator = true;
          return true;
        }
        asking = true;
        screen.setPrompt(CLOSE_QUESTION);
        return false;
      },
      onAction: (action) => {
        if (action.type === "refresh") screen.refresh();
        if (action.type !== "complete") return;
        const members = hub.members();
        const done = completer.complete({ text: editor.text, cursor: editor.cursor }, {
          nicks: members.map((m) => m.name).filter((name) => name !== OPERATOR_NAME),
          commands: OPERATOR_COMMANDS,
          rooms: [...new Set(members.map((m) => m.room))],
        });
        if (done === undefined) return;
        editor.replace(done.text, done.cursor);
        screen.updateInput(editor);
      },
    });
  } finally {
    stopResize?.();
    detachLogs?.();
    screen.clearInput();
    presence.leave("console closed");
    if (closedByOperator) options.write(new TextEncoder().encode(`${CONSOLE_OFF}\n`));
  }
}
