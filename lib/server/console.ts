/**
 * The server operator's console: the original design's server-side chat
 * participant. It enters the hub as role `operator`, shows room traffic and
 * reads what the operator types (moderation commands included).
 *
 * @module
 */
import type { Hub } from "../chat/hub.ts";
import type { ChatEvent, CloseReason, Member } from "../chat/message.ts";
import { readInput } from "../terminal/input.ts";
import { LineEditor } from "../terminal/line_editor.ts";
import { renderEvent } from "../terminal/render.ts";
import { Screen } from "../terminal/screen.ts";

/** The operator's name in the chat. */
export const OPERATOR_NAME = "operator";

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
}

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
  const screen = new Screen(options.write, {
    interactive: options.interactive,
    prompt: `${OPERATOR_NAME} >> `,
  });
  const editor = new LineEditor();
  const stopped = new AbortController();
  const view = { self: OPERATOR_NAME, colour: options.colour };
  const member: Member = {
    name: OPERATOR_NAME,
    role: "operator",
    deliver(event: ChatEvent) {
      screen.print(renderEvent(event, view));
    },
    close(reason: CloseReason) {
      screen.print([`-- console closed: ${reason.message}`]);
      queueMicrotask(() => stopped.abort());
    },
  };
  const presence = hub.enter(member);
  screen.updateInput(editor);
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopped.signal])
    : stopped.signal;
  await readInput({
    readable: options.readable,
    interactive: options.interactive,
    editor,
    screen,
    signal,
    onLine: (line) => presence.input(line),
    onInterrupt: () => presence.input("/shutdown"),
  });
  presence.leave("console closed");
}
