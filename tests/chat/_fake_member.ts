/**
 * Test doubles for the chat domain: a member that records what it is told,
 * a clock that only moves when told to, and a hub/temp-dir helper.
 *
 * @module
 */
import { FakeClock } from "../_fake_clock.ts";
import { Hub, type HubOptions } from "../../lib/chat/hub.ts";
import type {
  ChatEvent,
  CloseReason,
  DirectMessage,
  Member,
  NoticeEvent,
  PresenceEvent,
  Role,
  RoomEntered,
  RoomMessage,
} from "../../lib/chat/message.ts";

/** A member that records every event and its close reason. */
export class FakeMember implements Member {
  readonly name: string;
  readonly role: Role;
  readonly account?: string;
  readonly events: ChatEvent[] = [];
  closed: CloseReason | undefined;

  constructor(name: string, role: Role = "user", account?: string) {
    this.name = name;
    this.role = role;
    if (account !== undefined) this.account = account;
  }

  deliver(event: ChatEvent): void {
    this.events.push(event);
  }

  close(reason: CloseReason): void {
    this.closed = reason;
  }

  /** Room messages seen, in order. */
  messages(): RoomMessage[] {
    return this.events.filter((e): e is RoomMessage => e.kind === "message");
  }

  /** Texts of room messages seen. */
  texts(): string[] {
    return this.messages().map((m) => m.text);
  }

  /** DMs seen. */
  dms(): DirectMessage[] {
    return this.events.filter((e): e is DirectMessage => e.kind === "dm");
  }

  /** Notices seen. */
  notices(): NoticeEvent[] {
    return this.events.filter((e): e is NoticeEvent => e.kind === "notice");
  }

  /** Text of the last notice. */
  lastNotice(): string {
    return this.notices().at(-1)?.text ?? "";
  }

  /** Join and leave events seen. */
  presence(): PresenceEvent[] {
    return this.events.filter((e): e is PresenceEvent => e.kind === "join" || e.kind === "leave");
  }

  /** The last `room` event. */
  lastRoom(): RoomEntered | undefined {
    return this.events.filter((e): e is RoomEntered => e.kind === "room")
      .at(-1);
  }

  /** Forget what was seen so far. */
  clear(): void {
    this.events.length = 0;
  }
}

/** A hub on a fake clock, plus the clock. */
export function makeHub(
  options: Partial<HubOptions> = {},
): { hub: Hub; clock: FakeClock } {
  const clock = options.clock instanceof FakeClock ? options.clock : new FakeClock();
  return { hub: new Hub({ ...options, clock }), clock };
}

export { tempDir } from "../_helpers.ts";
