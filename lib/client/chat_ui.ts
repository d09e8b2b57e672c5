/**
 * The interactive side of the terminal client: what is shown (chat lines,
 * prompt, status line, bell) and what the keys do (completion, room keys,
 * paste, client-side commands). Implements {@linkcode ClientIO} for
 * {@linkcode ChatClient}; client.ts only wires it to the terminal.
 *
 * Client-side commands, handled here and never sent:
 *
 * | typed          | does                                                  |
 * | -------------- | ----------------------------------------------------- |
 * | `//text`       | not a command: sent as typed, for the server to post `/text` |
 * | `/switch ROOM` | makes ROOM the current room (also Alt-1..9, Ctrl-N/P) |
 * | `/away [off]`  | version 1: marks you away here; version 2: `off` is back |
 * | `/help CMD`    | explains one command (a server one: its `/help` line) |
 *
 * With protocol version 2 the client is in every room of the account at
 * once: the current room's lines are shown, the others' are counted in the
 * status line and kept until the user switches there, which marks the room
 * read on the server; that logic (login replay, backlogs, DM catch-up) is
 * {@linkcode V2Session} in v2_session.ts. `/away [text]`, `/join` and
 * `/part` go to the server, and `away` is shown from its `presence` answer.
 *
 * @module
 */
import type { ChatEvent } from "../chat/message.ts";
import type { TimeSource } from "../util/clock.ts";
import { Completer, KNOWN_COMMANDS } from "../terminal/completion.ts";
import type { EditorAction } from "../terminal/line_editor.ts";
import { LineEditor } from "../terminal/line_editor.ts";
import { renderEvent } from "../terminal/render.ts";
import { sanitise } from "../terminal/sanitise.ts";
import { Screen } from "../terminal/screen.ts";
import { renderPrompt, renderStatus } from "../terminal/status_line.ts";
import { ChatState, mentions } from "./chat_state.ts";
import type { ClientIO, ServerLimits } from "./run.ts";
import type { V2Client } from "./v2_session.ts";
import { V2Session } from "./v2_session.ts";

/** A bracketed paste of more lines than this asks before it is sent. */
export const PASTE_CONFIRM_LINES = 5;

/** The terminal bell. */
const BELL = "\x07";

/** The client's own commands and their help. */
const CLIENT_COMMANDS: Readonly<Record<string, string>> = {
  switch: "/switch ROOM — Make ROOM the current room (also Alt-1..9, Ctrl-N, Ctrl-P)",
  away: "/away [TEXT|off] — Mark yourself away (with TEXT), or back with off or no text",
  help: "/help [CMD] — List commands, or explain one",
};

/** What the UI needs of the client behind it. */
export interface ChatUiClient extends V2Client {
  /** Send a typed line (in `room`, for version 2); false when it was dropped. */
  say(text: string, room?: string): boolean;
  /** Leave. */
  quit(): void;
  /** The server's limits. */
  readonly limits: ServerLimits;
}

/** Options for {@linkcode ChatUi}. */
export interface ChatUiOptions {
  /** Where bytes for the terminal (or standard output) go. */
  readonly write: (bytes: Uint8Array) => void;
  /** Where scripted-mode status lines go (standard error). */
  readonly writeInfo?: (text: string) => void;
  /** A raw-mode terminal (else scripted). */
  readonly interactive: boolean;
  /** Colour allowed. */
  readonly colour: boolean;
  /** Ring the bell for every mention and DM, not only when unfocused. @default false */
  readonly bell?: boolean;
  /** The terminal's width, when known. */
  readonly columns?: () => number | undefined;
  /** The terminal's height. */
  readonly rows?: () => number;
  /** The time, for dates and pending lines. */
  readonly clock: TimeSource;
  /** Time zone for timestamps. @default the local one */
  readonly timeZone?: string;
}

/**
 * The client's terminal user interface.
 *
 * @example Scripted: lines go to the output as plain text
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChatUi } from "./chat_ui.ts";
 *
 * const out: string[] = [];
 * const ui = new ChatUi({
 *   write: (b) => out.push(new TextDecoder().decode(b)),
 *   writeInfo: (t) => out.push(t),
 *   interactive: false,
 *   colour: false,
 *   clock: { now: () => 0 },
 *   timeZone: "UTC",
 * });
 * ui.event({ kind: "message", id: 1, room: "lobby", from: "bob", text: "hi", ts: 0 }, "alice");
 * assert.deepEqual(out, ["[00:00] <bob> hi\n"]);
 * ```
 */
export class ChatUi implements ClientIO {
  readonly screen: Screen;
  readonly editor = new LineEditor();
  readonly state = new ChatState();
  readonly canAsk: boolean;
  readonly #options: ChatUiOptions;
  readonly #encoder = new TextEncoder();
  readonly #completer = new Completer();
  readonly #commands = new Set([...KNOWN_COMMANDS, ...Object.keys(CLIENT_COMMANDS)]);
  readonly #roomsSeen = new Set<string>();
  #client: ChatUiClient | undefined;
  /** A login prompt waiting for the next line. */
  #ask: ((line: string | undefined) => void) | undefined;
  /** A paste waiting for y/n. */
  #confirmPaste: string | undefined;
  /** `/help CMD` for a server command: the command looked for in the reply. */
  #helpFor: { command: string; found: boolean } | undefined;
  #focused = true;
  /** Version 2: the replay, rooms not shown, DM catch-up. */
  readonly #v2: V2Session;

  /** @param options Output, mode, colour, bell, size, clock. */
  constructor(options: ChatUiOptions) {
    this.#options = options;
    this.canAsk = options.interactive;
    this.screen = new Screen(options.write, {
      interactive: options.interactive,
      prompt: "",
      ...(options.columns ? { columns: options.columns } : {}),
      ...(options.rows ? { rows: options.rows } : {}),
      status: (columns) => this.state.self === "" ? undefined : renderStatus(this.#view(), columns),
    });
    this.#v2 = new V2Session({
      state: this.state,
      interactive: options.interactive,
      client: () => this.#client,
      show: (event, self) => this.#show(event, self),
      render: (event, self) => this.#render(event, self),
      print: (lines) => this.screen.print(lines),
      info: (text) => this.info(text),
      ring: () => this.#ring(),
      updatePrompt: () => this.#updatePrompt(),
      roomSeen: (room) => this.#roomsSeen.add(room),
    });
  }

  /** @param client The chat client lines go to. */
  attach(client: ChatUiClient): void {
    this.#client = client;
  }

  // --- ClientIO ---

  /** A status line: above the input on a terminal, on stderr when scripted. */
  info(text: string): void {
    const line = `-- ${sanitise(text)}`;
    if (this.#options.interactive) this.screen.print([line]);
    else (this.#options.writeInfo ?? console.error)(line);
  }

  /** A chat event: rendered, counted, maybe a bell. */
  event(event: ChatEvent, self: string): void {
    if (event.kind === "help" && this.#helpEvent(event)) return;
    if (this.#filterHelp(event)) return;
    if (this.state.multiRoom && this.#v2.event(event, self)) return;
    this.#show(event, self);
  }

  /** Render an event now: counted, maybe a bell, printed. */
  #show(event: ChatEvent, self: string): void {
    let mention = false;
    switch (event.kind) {
      case "room": {
        // Protocol v2's room frames carry the server's counts.
        const { unread, mentioned } = event as { unread?: unknown; mentioned?: unknown };
        this.state.joined(event.room, {
          members: event.members,
          ...(typeof unread === "number" ? { unread } : {}),
          ...(typeof mentioned === "number" ? { mentioned } : {}),
        });
        this.#roomsSeen.add(event.room);
        break;
      }
      case "join":
      case "leave":
        this.state.presence(event.room, event.user, event.kind === "join");
        this.#roomsSeen.add(event.room);
        break;
      case "message":
        mention = event.from !== self && mentions(event.text, self);
        this.state.message(event.room, { mention, from: event.from });
        break;
      case "dm":
        mention = event.from !== self;
        break;
      case "notice":
        this.#learnCommand(event.text);
        break;
    }
    const lines = this.#render(event, self);
    if (mention) this.#ring();
    if (event.kind === "room") this.#updatePrompt();
    this.screen.print(lines);
  }

  #render(event: ChatEvent, self: string): string[] {
    const columns = this.#options.interactive ? this.#options.columns?.() : undefined;
    const view = {
      self,
      colour: this.#options.colour,
      now: this.#options.clock.now(),
      mentions,
      ...(this.#options.timeZone === undefined ? {} : { timeZone: this.#options.timeZone }),
      ...(columns === undefined ? {} : { columns }),
    };
    const lines = renderEvent(event, view);
    // Scripted with several rooms: every room's lines, each led by its room.
    const room = "room" in event && typeof event.room === "string" && event.kind !== "room"
      ? event.room
      : undefined;
    if (this.#options.interactive || room === undefined || this.state.rooms().length < 2) {
      return lines;
    }
    return lines.map((l) => `#${sanitise(room)} ${l}`);
  }

  #ring(): void {
    if (this.#options.interactive && (this.#options.bell || !this.#focused)) {
      this.#options.write(this.#encoder.encode(BELL));
    }
  }

  /**
   * Switch the shown room: its kept lines, then mark it read, and the room
   * left too (its lines were seen live).
   */
  #switched(from: string | undefined): void {
    const room = this.state.current;
    if (room === undefined) return;
    if (this.state.multiRoom) {
      this.#v2.showBacklog(this.state.self);
      if (from !== undefined) this.#client?.read?.(from);
      this.#client?.read?.(room);
    }
    this.#updatePrompt();
  }

  /** Version 2 `/help` answers: commands to complete, or the one line `/help CMD` asked for. */
  #helpEvent(event: Extract<ChatEvent, { kind: "help" }>): boolean {
    for (const c of event.commands) this.#commands.add(c.name.replace(/^\//, "").toLowerCase());
    const help = this.#helpFor;
    if (help === undefined) return false;
    this.#helpFor = undefined;
    const found = event.commands.find((c) =>
      c.name.replace(/^\//, "").toLowerCase() === help.command
    );
    this.info(
      found === undefined
        ? `No command /${help.command} (/help lists them)`
        : `${found.usage} — ${found.summary}`,
    );
    return true;
  }

  /** Ask for a user name on the terminal; undefined on Ctrl-C / Ctrl-D. */
  askUsername(): Promise<string | undefined> {
    return this.#options.interactive
      ? this.#prompt("Username >> ", false)
      : Promise.resolve(undefined);
  }

  /** Ask for a password (not echoed); undefined on Ctrl-C / Ctrl-D. */
  askPassword(): Promise<string | undefined> {
    return this.#options.interactive
      ? this.#prompt("Password >> ", true)
      : Promise.resolve(undefined);
  }

  /** The connection changed: prompt and status line follow. */
  connection(
    state: "connecting" | "connected" | "disconnected",
    self: string,
    version?: 1 | 2,
  ): void {
    const was = this.state.connection;
    this.state.connection = state;
    if (state === "connected") {
      this.state.self = self;
      this.state.takePending(); // ChatClient sends them, once
      this.state.multiRoom = version === 2;
      this.#v2.connected(version === 2);
    }
    if (state === "connecting" && was === "disconnected") this.state.connection = "disconnected";
    this.#updatePrompt();
  }

  // --- input ---

  /**
   * A line the user entered.
   *
   * @param line The line.
   */
  line(line: string): void {
    if (this.#ask) return this.#ask(line);
    if (this.#confirmPaste !== undefined) {
      const text = this.#confirmPaste;
      this.#confirmPaste = undefined;
      this.#updatePrompt();
      if (/^y(es)?$/i.test(line.trim())) this.#send(text);
      else this.info("Paste not sent");
      return;
    }
    if (line.trim() === "") return;
    if (this.#local(line.trim())) return;
    // `//text` goes out as typed: the server unescapes it to the message
    // `/text` (protocol v2); it is never taken for a client command here.
    this.#send(line);
  }

  /**
   * An editor action other than submit and redraw.
   *
   * @param action What the editor reported.
   */
  action(action: EditorAction): void {
    switch (action.type) {
      case "complete": {
        const done = this.#completer.complete(
          { text: this.editor.text, cursor: this.editor.cursor },
          {
            nicks: [...new Set([...this.state.members(), ...this.#v2.online])].sort(),
            commands: [...this.#commands],
            rooms: [...new Set([...this.state.rooms().map((r) => r.name), ...this.#roomsSeen])],
          },
        );
        if (done !== undefined) {
          this.editor.replace(done.text, done.cursor);
          this.screen.updateInput(this.editor);
        }
        return;
      }
      case "refresh":
        return this.screen.refresh();
      case "key":
        return this.#key(action.key);
      case "paste":
        return this.#paste(action.lines);
      case "focus":
        this.#focused = action.focused;
        return;
    }
  }

  /** Ctrl-C: answers a login prompt with nothing, then leaves. */
  interrupt(): void {
    this.#ask?.(undefined);
    this.#client?.quit();
  }

  /** End of input (Ctrl-D on an empty line, or the pipe closed). */
  ended(): void {
    this.#ask?.(undefined);
    this.#client?.quit();
  }

  /** The terminal was resized: redraw the status and input lines at once. */
  resized(): void {
    this.screen.redraw();
  }

  // --- helpers ---

  #view() {
    const pending = this.state.pending().length;
    return {
      self: this.state.self,
      current: this.state.current,
      others: this.state.others(),
      away: this.state.away,
      connection: this.state.connection,
      rooms: this.state.rooms().map((r) => r.name),
      ...(pending > 0 ? { pending } : {}),
    };
  }

  #updatePrompt(): void {
    if (this.#ask || this.#confirmPaste !== undefined || this.state.self === "") return;
    if (this.#v2.replaying) return; // the rooms are known at `ready`
    this.screen.setPrompt(renderPrompt(this.#view()));
  }

  #prompt(label: string, secret: boolean): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.editor.password = secret;
      this.screen.setPrompt(label);
      this.#ask = (line) => {
        this.#ask = undefined;
        this.editor.password = false;
        this.screen.setPrompt(this.state.self === "" ? "" : renderPrompt(this.#view()));
        resolve(line);
      };
    });
  }

  /** Send a line, refusing one longer than the server takes (with the count). */
  #send(text: string): void {
    const client = this.#client;
    if (client === undefined) return;
    const length = [...text].length;
    const max = client.limits.messageChars;
    if (length > max) {
      this.info(`Line too long: ${length} characters, the server takes ${max}; not sent`);
      if (this.#options.interactive && this.editor.text === "") {
        this.editor.replace(text);
        this.screen.updateInput(this.editor);
      }
      return;
    }
    const lines = text.split("\n").length;
    const maxLines = client.limits.messageLines;
    if (lines > maxLines) {
      this.info(
        `Too many lines: ${lines}, the server takes ${maxLines} in one message; not sent`,
      );
      return;
    }
    const offline = this.state.connection !== "connected";
    if (!client.say(text, this.state.multiRoom ? this.state.current : undefined)) {
      this.info("Not connected and too many lines waiting: line dropped");
      return;
    }
    if (offline && this.#options.interactive) {
      this.state.addPending(text, this.#options.clock.now());
      this.screen.print([`-- pending (sent once reconnected): ${sanitise(text)}`]);
    }
  }

  /** Client-side commands; true when handled here. */
  #local(line: string): boolean {
    if (line.startsWith("//") || !line.startsWith("/")) return false;
    const [name = "", ...rest] = line.slice(1).split(/\s+/);
    const arg = rest.join(" ");
    switch (name.toLowerCase()) {
      case "switch": {
        const room = arg.replace(/^#/, "");
        if (room === "") this.info("Usage: /switch ROOM");
        else if (room === this.state.current) this.info(`You are in #${room} already`);
        else {
          const from = this.state.current;
          if (!this.state.switchTo(room)) {
            this.info(`Cannot switch to #${room}: you are not in it (/join ${room} enters it)`);
          } else this.#switched(from);
        }
        this.screen.redraw();
        return true;
      }
      case "away":
        if (this.state.multiRoom) {
          // The server keeps it (its presence answer shows it); `off` is back, as in version 1.
          this.#send(arg.toLowerCase() === "off" ? "/away" : line);
          return true;
        }
        this.state.away = arg.toLowerCase() !== "off";
        this.info(this.state.away ? "You are marked away" : "You are back");
        this.#updatePrompt();
        return true;
      case "help": {
        this.#endHelp();
        if (arg === "") return false; // the server lists every command
        const command = arg.replace(/^\//, "").toLowerCase();
        if (!this.#commands.has(command)) {
          this.info(`No command /${command} (/help lists them)`);
          return true;
        }
        const mine = CLIENT_COMMANDS[command];
        if (mine !== undefined && command !== "help") {
          this.info(mine);
          return true;
        }
        if (command === "help") {
          this.info(CLIENT_COMMANDS.help ?? "");
          return true;
        }
        this.#askHelp(command);
        return true;
      }
      default:
        return false;
    }
  }

  /** Ask the server for `/help` and show only the line for `command`. */
  #askHelp(command: string): void {
    const client = this.#client;
    if (client === undefined) return;
    this.#helpFor = { command, found: false };
    client.say("/help");
  }

  /** While `/help CMD` waits: keep only that command's line. True when the event is used. */
  #filterHelp(event: ChatEvent): boolean {
    const help = this.#helpFor;
    if (help === undefined || event.kind !== "notice" || event.level !== "info") {
      this.#endHelp();
      return false;
    }
    const text = event.text;
    if (text.startsWith("Commands (")) return true;
    const command = /^\/(\S+)/.exec(text)?.[1]?.toLowerCase();
    if (command === undefined) {
      this.#endHelp();
      return false;
    }
    this.#commands.add(command);
    if (command === help.command && !help.found) {
      help.found = true;
      this.info(text);
    }
    return true;
  }

  #endHelp(): void {
    const help = this.#helpFor;
    if (help === undefined) return;
    this.#helpFor = undefined;
    if (!help.found) this.info(`No command /${help.command} (/help lists them)`);
  }

  /** A `/name ...` line of a `/help` reply names a command to complete. */
  #learnCommand(text: string): void {
    const command = /^\/([a-z_]+)\b.* — /.exec(text)?.[1];
    if (command !== undefined) this.#commands.add(command);
  }

  #key(key: string): void {
    const before = this.state.current;
    let room: string | undefined;
    if (key === "next-room") room = this.state.cycle(1);
    else if (key === "prev-room") room = this.state.cycle(-1);
    else if (key.startsWith("room-")) room = this.state.switchToNumber(Number(key.slice(5)));
    if (room === undefined || room === before) return;
    this.#switched(before);
  }

  #paste(lines: readonly string[]): void {
    const text = lines.join("\n");
    if (this.#ask) return; // never paste into a login prompt
    if (lines.length > PASTE_CONFIRM_LINES) {
      this.#confirmPaste = text;
      this.screen.setPrompt(`Send ${lines.length} pasted lines as one message? [y/N] `);
      return;
    }
    this.#send(text);
  }
}
