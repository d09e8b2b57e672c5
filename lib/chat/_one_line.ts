/**
 * A message as a one-room member is shown it: {@linkcode oneLine}.
 *
 * @module
 */
import type { DirectMessage, RoomMessage } from "./message.ts";

/**
 * A message as a one-room member is shown it: newlines as " ⏎ " (its
 * protocol has none).
 *
 * @param message A room message or DM.
 * @returns The same message when it has no newline, else a copy on one line.
 */
export function oneLine<T extends RoomMessage | DirectMessage>(message: T): T {
  return message.text.includes("\n")
    ? { ...message, text: message.text.replaceAll("\n", " \u23ce ") }
    : message;
}
