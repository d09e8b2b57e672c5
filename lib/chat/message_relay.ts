/**
 * The seam between the hub and a shared message log (cluster mode): where
 * a posted message goes to be stored and numbered before anyone sees it,
 * and who else is online. Without a relay the hub stores a message in its
 * own history and delivers it at once; with one, it hands the message to
 * the relay and delivers only what the relay hands back through
 * `Hub.receive`, in the log's order, on every instance alike.
 *
 * @module
 */
import type { DirectAccounts } from "./history.ts";
import type { DirectMessage, RoomMessage } from "./message.ts";

/** A message before the log gives it its id. */
export type Unnumbered<T> = Omit<T, "id">;

/** A message as the log hands it back: numbered, a DM with its two accounts. */
export interface RelayedMessage {
  readonly message: RoomMessage | DirectMessage;
  /** A DM's sender and recipient account ids. */
  readonly accounts?: DirectAccounts;
}

/** A user online on another instance. */
export interface RemoteUser {
  /** The account id. */
  readonly account: string;
  /** The user name. */
  readonly name: string;
  /** Set while the user is away. */
  readonly away?: string | undefined;
}

/** Where a hub's messages are stored and numbered; see the module doc. */
export interface MessageRelay {
  /**
   * Store a room message in the log.
   *
   * @returns The message with its id, once the log holds it.
   * @throws {Error} When it cannot be stored (the link is down): the message
   * was not sent; the error's text is fit for the sender.
   */
  postRoom(message: Unnumbered<RoomMessage>): Promise<RoomMessage>;
  /** Store a DM between two accounts; as {@linkcode postRoom}. */
  postDirect(message: Unnumbered<DirectMessage>, accounts: DirectAccounts): Promise<DirectMessage>;
  /** Users online on other instances, each once. */
  remoteUsers(): readonly RemoteUser[];
}
