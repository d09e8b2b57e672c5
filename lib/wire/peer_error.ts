/**
 * The one base class for errors caused by what the peer sent, so a
 * connection's owner catches them all with one `instanceof` and answers with
 * their `code` (the local side is not at fault, the connection is).
 *
 * @module
 */

/**
 * The peer sent something this side refuses: bytes that are not a frame,
 * or a frame that is not valid here. Its `message` is safe to send back to
 * the peer; `cause` (never sent) may hold the underlying parser error.
 *
 * @typeParam Code The machine-readable codes a subclass may carry.
 *
 * @example Catch any peer error by its base
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { PeerError } from "./peer_error.ts";
 * import { ProtocolError } from "./protocol.ts";
 *
 * const error: unknown = new ProtocolError("not_object", "Frame is not a JSON object");
 * equal(error instanceof PeerError && error.code, "not_object");
 * ```
 */
export class PeerError<Code extends string = string> extends Error {
  /** Machine-readable cause, also sent to the peer as `error.code`. */
  readonly code: Code;

  /**
   * @param code What was wrong.
   * @param message Human-readable text, safe to send to the peer.
   * @param options The underlying error, if any.
   */
  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PeerError";
    this.code = code;
  }
}
