/**
 * Read what the user types: through a {@linkcode LineEditor} in raw mode on
 * a terminal, or line by line from a pipe (scripted use). Shared by the
 * client and the server console.
 *
 * @module
 */
import { type EditorAction, LineEditor } from "./line_editor.ts";
import type { Screen } from "./screen.ts";

/** Options for {@linkcode readInput}. */
export interface ReadInputOptions {
  /** Bytes typed or piped in. */
  readable: ReadableStream<Uint8Array>;
  /** Raw-mode terminal editing when true; plain lines otherwise. */
  interactive: boolean;
  /** Shared editor (so a password prompt can switch it). */
  editor?: LineEditor;
  /** Redraws the input line on a terminal. */
  screen?: Screen;
  /** Each line entered. Returning false stops reading. */
  onLine: (line: string) => boolean | void;
  /** Ctrl-C on a terminal. */
  onInterrupt?: () => void;
  /** Ctrl-D on an empty line. Returning false keeps reading (e.g. to ask first). */
  onEof?: () => boolean | void;
  /** Every other editor action: completion, refresh, room keys, paste, focus. */
  onAction?: (action: EditorAction) => void;
  /** Stop reading. */
  signal?: AbortSignal;
}

/**
 * Read lines until end of input, `onLine` returns false, or `signal` aborts.
 *
 * @param options Source, mode and callbacks.
 * @returns True when input ended (EOF or Ctrl-D), false when stopped.
 */
export async function readInput(options: ReadInputOptions): Promise<boolean> {
  const reader = options.readable.getReader();
  const stop = () => reader.cancel().catch(() => undefined);
  options.signal?.addEventListener("abort", stop, { once: true });
  const editor = options.editor ?? new LineEditor();
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({
        value: undefined,
        done: true as const,
      }));
      if (done || options.signal?.aborted) {
        if (
          !options.interactive && pending !== "" && !options.signal?.aborted
        ) {
          options.onLine(pending.replace(/\r$/, ""));
        }
        return !options.signal?.aborted;
      }
      if (options.interactive) {
        for (const action of editor.feed(value)) {
          switch (action.type) {
            case "submit":
              options.screen?.updateInput(editor);
              if (options.onLine(action.line) === false) return false;
              break;
            case "redraw":
              options.screen?.updateInput(editor);
              break;
            case "eof":
              if (options.onEof?.() === false) break;
              return true;
            case "interrupt":
              options.onInterrupt?.();
              break;
            default:
              options.onAction?.(action);
          }
        }
      } else {
        pending += decoder.decode(value, { stream: true });
        let newline = pending.indexOf("\n");
        while (newline !== -1) {
          const line = pending.slice(0, newline).replace(/\r$/, "");
          pending = pending.slice(newline + 1);
          if (options.onLine(line) === false) return false;
          newline = pending.indexOf("\n");
        }
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}
