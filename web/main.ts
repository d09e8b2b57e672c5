/// <reference lib="dom" />
/**
 * The web client's entry point (bundled to web/dist/app.js by `deno task
 * web:build`): wires the login form, the chat view (sidebar of rooms and
 * DMs, message list with infinite scroll back, members panel), the
 * connection and the state together. Speaks protocol version 2: requests
 * carry ids, read markers are sent when a room is looked at. Plain DOM, no
 * framework; every piece of user text goes through render.ts as text.
 *
 * @module
 */
import type { ByeCode, ClientFrame, ServerFrame } from "../lib/wire/protocol.ts";
import { Link, type LinkStatus } from "./link.ts";
import { dayOf, renderDivider, renderLine } from "./render.ts";
import { type Applied, ChatState, dmKey, type Line, mentions, type RoomState } from "./state.ts";
import { checkInput, type InputLimits } from "./input.ts";

/** Where the session survives a reload (this tab only). */
const STORE_USER = "banter.user";
const STORE_TOKEN = "banter.token";
/** The room shown last, shown again after a reload. */
const STORE_ROOM = "banter.room";
/** The room shown at first when none was chosen. */
const LOBBY = "lobby";
/** How far from the top of the list (px) scrolling asks for older messages. */
const LOAD_OLDER_PX = 80;
/** How long a read marker waits for more messages before it is sent (ms). */
const READ_DELAY_MS = 300;
/** `bye` codes after which the page does not reconnect by itself. */
const FINAL_BYES: ReadonlySet<ByeCode> = new Set([
  "end",
  "kicked",
  "banned",
  "replaced",
  "denied",
  "locked",
  "too_many_sessions",
]);

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`Cannot start the page: #${id} is missing`);
  return element as T;
}

function main(): void {
  const ui = {
    loginView: byId("login-view"),
    loginForm: byId<HTMLFormElement>("login-form"),
    username: byId<HTMLInputElement>("username"),
    password: byId<HTMLInputElement>("password"),
    loginMessage: byId("login-message"),
    loginButton: byId<HTMLButtonElement>("login-button"),
    chatView: byId("chat-view"),
    title: byId("room-title"),
    topic: byId("room-topic"),
    status: byId("status"),
    joke: byId<HTMLButtonElement>("joke"),
    notify: byId<HTMLButtonElement>("notify"),
    logout: byId<HTMLButtonElement>("logout"),
    roomList: byId("room-list"),
    messagesPane: byId("messages-pane"),
    older: byId("older"),
    messages: byId("messages"),
    members: byId("members"),
    sendForm: byId<HTMLFormElement>("send-form"),
    input: byId<HTMLTextAreaElement>("input"),
    inputHint: byId("input-hint"),
  };
  let state = new ChatState();
  let limits: InputLimits = { chars: 4096, lines: 50 };
  let lastDay = "";
  let loggedIn = false;
  let nextId = 1;
  /** What each request in flight was, by its id. */
  const pending = new Map<number, { kind: ClientFrame["type"]; room?: string }>();
  /** Rooms whose older page is being fetched. */
  const loadingOlder = new Set<string>();
  let readTimer: ReturnType<typeof setTimeout> | undefined;

  const request = (frame: ClientFrame, room?: string): boolean => {
    const id = nextId++;
    if (!link.send({ ...frame, id } as ClientFrame)) return false;
    pending.set(id, { kind: frame.type, ...(room === undefined ? {} : { room }) });
    return true;
  };

  const showLogin = (message: string) => {
    loggedIn = false;
    ui.chatView.hidden = true;
    ui.loginView.hidden = false;
    ui.loginMessage.textContent = message;
    ui.loginButton.disabled = false;
    ui.password.value = "";
    (ui.username.value === "" ? ui.username : ui.password).focus();
  };

  const lineElement = (line: Line) => {
    const li = renderLine(line);
    if (line.kind === "message" && line.from !== state.user && mentions(line.text, state.user)) {
      li.classList.add("mentioned");
    }
    return li;
  };

  const appendToView = (line: Line) => {
    const day = dayOf(line.ts);
    if (day !== lastDay) {
      ui.messages.append(renderDivider(line.ts));
      lastDay = day;
    }
    ui.messages.append(lineElement(line));
  };

  const currentRoom = (): RoomState | undefined => state.rooms.get(state.current);

  /** Draw the shown room's lines; `keep` holds the view on the same lines (after a page back). */
  const renderMessages = (keep = false) => {
    const pane = ui.messagesPane;
    const fromBottom = pane.scrollHeight - pane.scrollTop;
    ui.messages.replaceChildren();
    lastDay = "";
    const room = currentRoom();
    for (const line of room?.lines ?? []) appendToView(line);
    ui.older.hidden = !(room?.hasOlder ?? false);
    pane.scrollTop = keep ? pane.scrollHeight - fromBottom : pane.scrollHeight;
    maybeLoadOlder();
  };

  /** Sidebar entries by room, kept across renders so focus and clicks stay on them. */
  const roomItems = new Map<string, { li: HTMLLIElement; button: HTMLButtonElement }>();
  const roomItem = (name: string) => {
    let item = roomItems.get(name);
    if (item === undefined) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset["room"] = name;
      button.addEventListener("click", () => {
        open(name);
        ui.input.focus();
      });
      li.append(button);
      item = { li, button };
      roomItems.set(name, item);
    }
    return item;
  };

  const renderRooms = () => {
    const rooms = state.sidebar();
    for (const name of roomItems.keys()) {
      if (!state.rooms.has(name)) roomItems.delete(name);
    }
    const items = rooms.map((room) => {
      const { li, button } = roomItem(room.name);
      button.setAttribute("aria-current", String(room.name === state.current));
      const name = document.createElement("span");
      name.textContent = room.dm ? room.name : `#${room.name}`;
      const badges = document.createElement("span");
      if (room.unread > 0) {
        const unread = document.createElement("span");
        unread.className = "unread";
        unread.textContent = room.unreadCapped ? `${room.unread}+` : String(room.unread);
        unread.setAttribute("aria-label", `${unread.textContent} unread`);
        badges.append(unread);
      }
      if (room.mentioned) {
        const mark = document.createElement("span");
        mark.className = "mention";
        mark.textContent = "@";
        mark.setAttribute("aria-label", room.dm ? "unread direct messages" : "mentions you");
        badges.append(mark);
      }
      button.replaceChildren(name, badges);
      return li;
    });
    const shown = [...ui.roomList.children];
    if (shown.length !== items.length || items.some((li, i) => shown[i] !== li)) {
      ui.roomList.replaceChildren(...items);
    }
  };

  const renderMembers = () => {
    const room = currentRoom();
    const online = [...(room?.members ?? [])].sort((a, b) => a.localeCompare(b));
    const offline = [...(room?.known ?? [])].filter((n) => !room?.members.has(n)).sort((a, b) =>
      a.localeCompare(b)
    );
    const item = (name: string, presence: "online" | "away" | "offline") => {
      const li = document.createElement("li");
      li.dataset["presence"] = presence;
      li.dataset["name"] = name;
      const nick = document.createElement("span");
      nick.className = "member-name";
      nick.textContent = name;
      li.append(nick);
      const away = state.away.get(name);
      if (presence !== "online") {
        const note = document.createElement("span");
        note.className = "member-note";
        note.textContent = presence === "away" ? ` away${away ? `: ${away}` : ""}` : " offline";
        li.append(note);
      }
      return li;
    };
    ui.members.replaceChildren(
      ...online.map((n) => item(n, state.away.has(n) ? "away" : "online")),
      ...offline.map((n) => item(n, "offline")),
    );
  };

  const renderHeader = () => {
    const room = currentRoom();
    ui.title.textContent = room === undefined ? "Banter" : room.dm ? room.name : `#${room.name}`;
    ui.topic.textContent = room?.topic ?? "";
    ui.topic.hidden = (room?.topic ?? "") === "";
  };

  const renderAll = () => {
    renderHeader();
    renderRooms();
    renderMessages();
    renderMembers();
  };

  const visible = () => document.visibilityState === "visible";

  /** Tell the server (and so the account's other devices) that the shown room is read. */
  const sendRead = () => {
    readTimer = undefined;
    const room = currentRoom();
    if (room === undefined || !visible() || !state.ready) return;
    const lastRead = state.markRead(room.name);
    if (lastRead === undefined) return;
    request(
      room.dm
        ? { type: "read", with: room.name.slice(1), last_read: lastRead }
        : { type: "read", room: room.name, last_read: lastRead },
    );
    renderRooms();
  };
  const scheduleRead = () => {
    if (readTimer === undefined) readTimer = setTimeout(sendRead, READ_DELAY_MS);
  };

  /** Ask for the page of messages before the oldest held, when the top is in sight. */
  const maybeLoadOlder = () => {
    const room = currentRoom();
    if (room === undefined || !room.hasOlder || loadingOlder.has(room.name)) return;
    if (ui.messagesPane.scrollTop > LOAD_OLDER_PX) return;
    const where = room.dm ? { with: room.name.slice(1) } : { room: room.name };
    const before = room.firstId > 0 ? { before: room.firstId } : {};
    if (request({ type: "history", ...where, ...before, limit: state.historyLimit }, room.name)) {
      loadingOlder.add(room.name);
    }
  };

  const refreshMembers = (room: RoomState) => {
    if (room.dm || !room.staleMembers) return;
    room.staleMembers = false;
    request({ type: "say", room: room.name, text: "/who" }, room.name);
  };

  /** Show a room or DM: read it, fetch a DM's messages the first time. */
  const open = (name: string) => {
    state.current = name;
    sessionStorage.setItem(STORE_ROOM, name);
    renderAll();
    const room = currentRoom();
    if (room !== undefined) refreshMembers(room);
    sendRead();
  };

  const notify = (line: Line) => {
    if (line.kind !== "message" || line.from === state.user) return;
    if (!line.dm && !mentions(line.text, state.user)) return;
    if (!("Notification" in globalThis) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return;
    new Notification(line.dm ? `${line.from} (direct)` : `${line.from} in ${line.room}`, {
      body: line.text.slice(0, 200),
    });
  };

  /** Show what applying a frame changed. */
  const show = (applied: Applied, live: boolean) => {
    if (applied.room !== undefined && applied.room === state.current) {
      if (applied.prepended) renderMessages(true);
      else if (applied.added.length > 0) {
        const pane = ui.messagesPane;
        const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
        for (const line of applied.added) appendToView(line);
        if (atBottom) pane.scrollTop = pane.scrollHeight;
        if (live) scheduleRead();
      }
      ui.older.hidden = !(currentRoom()?.hasOlder ?? false);
    }
    if (live) { for (const line of applied.added) notify(line); }
    if (applied.roomsChanged) {
      renderRooms();
      renderHeader();
    }
    if (applied.membersChanged) renderMembers();
    const room = currentRoom();
    if (room?.staleMembers) refreshMembers(room);
  };

  const systemLine = (text: string, level: "info" | "warn" | "error") =>
    show(state.system(state.current, text, Date.now(), level), false);

  const onFrame = (frame: ServerFrame) => {
    switch (frame.type) {
      case "auth": {
        const user = sessionStorage.getItem(STORE_USER);
        const token = sessionStorage.getItem(STORE_TOKEN);
        if (user !== null && token !== null) {
          link.send({ type: "login", username: user, token });
        } else showLogin(ui.loginMessage.textContent ?? "");
        break;
      }
      case "auth_failed":
        if (frame.reason === "token_invalid") sessionStorage.removeItem(STORE_TOKEN);
        showLogin(frame.message);
        break;
      case "welcome": {
        state.user = frame.user;
        state.ready = false;
        if (frame.limits !== undefined) {
          limits = { chars: frame.limits.message_chars, lines: frame.limits.message_lines };
          state.historyLimit = frame.limits.history_limit;
        }
        sessionStorage.setItem(STORE_USER, frame.user);
        if (frame.token !== undefined) sessionStorage.setItem(STORE_TOKEN, frame.token);
        const first = !loggedIn;
        loggedIn = true;
        pending.clear();
        loadingOlder.clear();
        ui.loginView.hidden = true;
        ui.chatView.hidden = false;
        ui.loginMessage.textContent = "";
        if (first) ui.input.focus();
        break;
      }
      case "bye":
        if (loggingOut) {
          loggingOut = false;
          link.stop(frame.message);
          showLogin(frame.message);
          link.start(); // a fresh connection for the next login
        } else if (FINAL_BYES.has(frame.code)) {
          if (frame.code !== "locked" && frame.code !== "denied") {
            sessionStorage.removeItem(STORE_TOKEN);
          }
          link.stop(frame.message);
          showLogin(frame.message);
        } else systemLine(frame.message, "warn");
        break;
      case "error": {
        const asked = frame.id === undefined ? undefined : pending.get(Number(frame.id));
        if (frame.id !== undefined) pending.delete(Number(frame.id));
        if (asked?.kind === "history" && asked.room !== undefined) {
          loadingOlder.delete(asked.room);
        }
        // A read marker or a members refresh refused (rate): nothing the user asked for.
        if (asked?.kind === "read" || (asked?.kind === "say" && asked.room !== undefined)) break;
        systemLine(frame.message, "error");
        break;
      }
      case "ack":
        pending.delete(Number(frame.id));
        break;
      case "part": {
        if (frame.user === state.user) {
          const shown = state.current === frame.room;
          state.drop(frame.room);
          if (shown) open(state.current);
          else renderRooms();
          break;
        }
        show(state.apply(frame, visible()), true);
        break;
      }
      case "room": {
        const asked = frame.id === undefined ? undefined : pending.get(Number(frame.id));
        show(state.apply(frame, visible()), false);
        if (asked?.kind === "join") open(frame.room);
        else if (state.ready && frame.room === state.current) scheduleRead();
        break;
      }
      case "history": {
        const name = frame.room ?? dmKey(frame.with ?? "");
        loadingOlder.delete(name);
        show(state.apply(frame, visible()), false);
        break;
      }
      case "ready": {
        state.apply(frame, visible());
        // First login or reload: the room shown before, else the lobby, else the first.
        const chosen = sessionStorage.getItem(STORE_ROOM);
        if (chosen !== null && state.rooms.has(chosen)) state.current = chosen;
        else if (chosen === null && state.rooms.has(LOBBY)) state.current = LOBBY;
        else if (!state.rooms.has(state.current)) state.current = state.sidebar()[0]?.name ?? "";
        renderAll();
        sendRead();
        break;
      }
      case "hello":
      case "ping":
      case "pong":
        break; // the link answers these
      default:
        show(state.apply(frame, visible()), true);
    }
  };

  const showStatus = (status: LinkStatus) => {
    ui.status.classList.toggle("offline", status.state !== "connected");
    switch (status.state) {
      case "connecting":
        ui.status.textContent = "Connecting…";
        break;
      case "connected":
        ui.status.textContent = "Connected";
        break;
      case "waiting":
        ui.status.textContent = `Connection lost: reconnecting in ${
          Math.ceil(status.delayMs / 1000)
        } s (attempt ${status.attempt})`;
        break;
      case "closed":
        ui.status.textContent = `Disconnected: ${status.message}`;
        break;
    }
  };

  const link = new Link(`wss://${location.host}/ws`, {
    frame: onFrame,
    status: showStatus,
    resume: () => state.resume(),
  });

  ui.loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    ui.loginButton.disabled = true;
    ui.loginMessage.textContent = "Checking…";
    const sent = link.send({
      type: "login",
      username: ui.username.value.trim(),
      password: ui.password.value,
      want_token: true,
    });
    if (!sent) {
      ui.loginButton.disabled = false;
      ui.loginMessage.textContent = "Not connected yet, try again in a moment";
      link.retryNow();
    }
  });

  /** Send what was typed to the shown room or DM; false when it was refused or not sent. */
  const sendText = (raw: string): boolean => {
    const text = raw.replace(/\r\n?/g, "\n").replace(/^\n+|\n+$/g, "");
    if (text.trim() === "") return true;
    const problem = checkInput(text, limits);
    ui.inputHint.textContent = problem ?? "";
    if (problem !== undefined) return false;
    const room = currentRoom();
    const inRoom = room !== undefined && !room.dm ? { room: room.name } : {};
    const command = /^\/(\S+)\s*(.*)$/.exec(text);
    if (command !== null) {
      const [, name = "", arg = ""] = command;
      const target = arg.trim().replace(/^#/, "");
      if (name === "join" && target !== "") return request({ type: "join", room: target });
      if (name === "part" && (target !== "" || inRoom.room !== undefined)) {
        return request({ type: "part", room: target || (inRoom.room ?? "") });
      }
      return request({ type: "say", text, ...inRoom });
    }
    if (room?.dm) return request({ type: "dm", to: room.name.slice(1), text });
    return request({ type: "say", text, ...inRoom });
  };

  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sendText(ui.input.value)) ui.input.value = "";
  });

  ui.input.addEventListener("input", () => {
    const text = ui.input.value;
    ui.inputHint.textContent = text.length > limits.chars ? (checkInput(text, limits) ?? "") : "";
  });

  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.sendForm.requestSubmit();
    } else if (event.key === "Tab" && !event.shiftKey && completeNick()) {
      event.preventDefault();
    }
  });

  ui.messagesPane.addEventListener("scroll", () => maybeLoadOlder(), { passive: true });

  /** Complete the word before the caret from the members seen; false when nothing matched. */
  const completeNick = (): boolean => {
    const { value, selectionStart } = ui.input;
    const before = value.slice(0, selectionStart);
    const word = /[^\s]*$/.exec(before)?.[0] ?? "";
    const prefix = word.replace(/^@/, "").toLowerCase();
    if (prefix === "") return false;
    const known = new Set<string>();
    for (const room of state.rooms.values()) for (const m of room.known) known.add(m);
    known.delete(state.user);
    const match = [...known].sort().find((name) => name.toLowerCase().startsWith(prefix));
    if (match === undefined) return false;
    const start = before.length - word.length;
    const atStart = start === 0 && !word.startsWith("@");
    const insert = `${word.startsWith("@") ? "@" : ""}${match}${atStart ? ": " : " "}`;
    ui.input.value = value.slice(0, start) + insert + value.slice(selectionStart);
    ui.input.selectionStart = ui.input.selectionEnd = start + insert.length;
    return true;
  };

  ui.joke.addEventListener("click", () => {
    const room = currentRoom();
    request({ type: "say", text: "get_joke", ...(room && !room.dm ? { room: room.name } : {}) });
    ui.input.focus();
  });

  const updateNotifyButton = () => {
    const supported = "Notification" in globalThis;
    ui.notify.hidden = !supported || Notification.permission !== "default";
  };
  ui.notify.addEventListener("click", async () => {
    await Notification.requestPermission();
    updateNotifyButton();
  });
  updateNotifyButton();

  /** Forget the session here; the server's `bye` (or no connection) ends it there. */
  const forget = () => {
    sessionStorage.removeItem(STORE_TOKEN);
    sessionStorage.removeItem(STORE_USER);
    sessionStorage.removeItem(STORE_ROOM);
    state = new ChatState();
    ui.username.value = "";
    ui.messages.replaceChildren();
  };
  let loggingOut = false;
  ui.logout.addEventListener("click", () => {
    forget();
    if (link.send({ type: "logout" })) {
      // Shown once the server has revoked the token and said goodbye.
      loggingOut = true;
      ui.status.textContent = "Logging out…";
      return;
    }
    link.stop("Logged out");
    showLogin("Logged out");
    link.start();
  });

  document.addEventListener("visibilitychange", () => {
    if (visible()) sendRead();
  });

  ui.loginView.hidden = sessionStorage.getItem(STORE_TOKEN) !== null;
  link.start();
}

main();
