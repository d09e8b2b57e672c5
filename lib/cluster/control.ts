/**
 * Commands between the instances of a cluster on one NATS subject: "close
 * this user's sessions" after a kick or ban on any instance, so the user is
 * gone everywhere. Core NATS (at most once): an instance whose link is down
 * at that moment misses a kick; a ban it still learns from the bans bucket's
 * watch (see `kv_chat_state.ts`) when the link is back.
 *
 * @module
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { isRecord } from "../util/is_record.ts";

/** The control subject. */
export const CONTROL_SUBJECT = "banter.control";

/** Close every session of `user` (case-insensitive) on every instance. */
export interface CloseUserCommand {
  readonly action: "close";
  /** The user name. */
  readonly user: string;
  /** Why, as the close code the sessions are given. */
  readonly code: "kicked" | "banned";
  /** The text shown to the user (`kicked: spam`). */
  readonly reason: string;
  /** The instance that sent it. */
  readonly from: string;
}

/** The control channel of one instance. */
export class ClusterControl implements AsyncDisposable {
  #nc: NatsConnection;
  #instance: string;
  #subscription: Subscription;

  /**
   * Subscribe to the control subject.
   *
   * @param nc The cluster connection.
   * @param instance This instance's name; its own commands are not handed back.
   * @param onCommand Called with each valid command from another instance.
   */
  constructor(
    nc: NatsConnection,
    instance: string,
    onCommand: (command: CloseUserCommand) => void,
  ) {
    this.#nc = nc;
    this.#instance = instance;
    this.#subscription = nc.subscribe(CONTROL_SUBJECT, {
      callback: (error, msg) => {
        if (error !== null) return;
        const command = parseCommand(msg.data);
        if (command !== undefined && command.from !== instance) onCommand(command);
      },
    });
  }

  /** Resolves once the server has the subscription (commands sent after it reach this instance). */
  async ready(): Promise<void> {
    await this.#nc.flush();
  }

  /**
   * Tell every other instance to close `user`'s sessions.
   *
   * @param user The user name.
   * @param code Kicked or banned.
   * @param reason The text the user is shown.
   */
  async closeUser(user: string, code: CloseUserCommand["code"], reason: string): Promise<void> {
    const command: CloseUserCommand = { action: "close", user, code, reason, from: this.#instance };
    this.#nc.publish(CONTROL_SUBJECT, JSON.stringify(command));
    await this.#nc.flush();
  }

  /** Unsubscribe. */
  async close(): Promise<void> {
    this.#subscription.unsubscribe();
    await this.#subscription.closed;
  }

  /** {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A control message, untrusted until checked; undefined when it is not a command. */
function parseCommand(data: Uint8Array): CloseUserCommand | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (
    !isRecord(value) || value.action !== "close" || typeof value.user !== "string" ||
    (value.code !== "kicked" && value.code !== "banned") || typeof value.reason !== "string" ||
    typeof value.from !== "string"
  ) {
    return undefined;
  }
  return {
    action: "close",
    user: value.user,
    code: value.code,
    reason: value.reason,
    from: value.from,
  };
}
