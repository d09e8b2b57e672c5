/**
 * What a member asks the hub to do, as data (the protocol's version 2
 * frames map onto these), and what came of it.
 *
 * @module
 */
import type { RequestRef } from "./message.ts";

/** Fields every request may carry. */
interface Named {
  /** Echoed on every answer to this request. */
  readonly ref?: RequestRef;
}

/** One request to the hub. */
export type ChatRequest =
  & Named
  & (
    /** A typed line: chat text, a `/command`, `end` or `get_joke`. */
    | { readonly kind: "say"; readonly room?: string; readonly text: string }
    | { readonly kind: "dm"; readonly to: string; readonly text: string }
    | { readonly kind: "join"; readonly room: string }
    | { readonly kind: "part"; readonly room: string }
    | { readonly kind: "topic"; readonly room: string; readonly text: string }
    | { readonly kind: "away"; readonly text?: string }
    | {
      readonly kind: "history";
      readonly room?: string;
      readonly with?: string;
      readonly before?: number;
      readonly limit?: number;
    }
    | {
      readonly kind: "read";
      readonly room?: string;
      readonly with?: string;
      readonly lastRead: number;
    }
  );

/** Why a request was refused. */
export type RefusalCode = "refused" | "rate_limited";

/** What came of a request. */
export type Outcome =
  | {
    readonly ok: true;
    /** The id of the message it posted, if it posted one. */
    readonly messageId?: number;
    /**
     * Set when the answer is not known yet (cluster mode: a message is
     * acknowledged once the shared log stored it): settles to the final
     * outcome, never rejects.
     */
    readonly pending?: Promise<Outcome>;
  }
  | {
    readonly ok: false;
    readonly code: RefusalCode;
    /** Text fit for the user. */
    readonly message: string;
    /** `rate_limited`: when the next request would pass. */
    readonly retryAfterMs?: number;
    /** `rate_limited`: the first refusal of a streak (the only one warned about in text). */
    readonly first?: boolean;
  };
