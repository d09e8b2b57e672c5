/// <reference lib="dom" />
/**
 * The web client's entry point (bundled to web/dist/app.js by `deno task
 * web:build`): wires the login form, the chat view, the connection and the
 * state together. Plain DOM, no framework; every piece of user text goes
 * through render.ts as text.
 *
 * @module
 */
import type { ByeCode, ServerFrame } from "../lib/wire/protocol.ts";
import { Link, type LinkStatus } from "./link.ts";
import { dayOf, renderDivider, renderLine } from "./render.ts";
import { ChatState, type Line, mentions } from "./state.ts";

/** Where the session survives a reload (this tab only). */
const STORE_USER = "banter.user";
const STORE_TOKEN = "banter.token";
/** Lines kept per room in the page. */
const MAX_LINES = 2000;
/** `bye` codes after which the page does not reconnect by itself. */
const FINAL_BYES: ReadonlySet<ByeCode> = new Set([
  "end",
  "kicked",
  "banned",
  "replaced",
  "denied",
  "locked",
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
    status: byId("status"),
    joke: byId<HTMLButtonElement>("joke"),
    notify: byId<HTMLButtonElement>("notify"),
    logout: byId<HTMLButtonElement>("logout"),
    roomList: byId("room-list"),
    messagesPane: byId("messages-pane"),
    messages: byId("messages"),
    members: byId("members"),
    sendForm: byId<HTMLFormElement>("send-form"),
    input: byId<HTMLTextAreaElement>("input"),
  };
  const state = new ChatState();
  const lines = new Map<string, Line[]>();
  let lastDay = "";
  let loggedIn = false;

  const showLogin = (message: string) => {
    loggedIn = false;
    ui.chatView.hidden = true;
    ui.loginView.hidden = false;
    ui.loginMessage.textContent = message;
    ui.loginButton.disabled = false;
    ui.password.value = "";
    (ui.username.value === "" ? ui.username : ui.password).focus();
  };

  const appendToView = (line: Line) => {
    const day = dayOf(line.ts);
    if (day !== lastDay) {
      ui.messages.append(renderDivider(line.ts));
      lastDay = day;
    }
    const li = renderLine(line);
    if (line.kind === "message" && line.from !== state.user && mentions(line.text, state.user)) {
      li.classList.add("mentioned");
    }
    ui.messages.append(li);
  };

  const renderMessages = () => {
    ui.messages.replaceChildren();
    lastDay = "";
    for (const line of lines.get(state.current) ?? []) appendToView(line);
    ui.messagesPane.scrollTop = ui.messagesPane.scrollHeight;
  };

  const renderRooms = () => {
    const items = [...state.rooms.values()].map((room) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset["room"] = room.name;
      button.setAttribute("aria-current", String(room.name === state.current));
      const name = document.createElement("span");
      name.textContent = room.name;
      button.append(name);
      const badges = document.createElement("span");
      if (room.unread > 0) {
        const unread = document.createElement("span");
        unread.className = "unread";
        unread.textContent = String(room.unread);
        unread.setAttribute("aria-label", `${room.unread} unread`);
        badges.append(unread);
      }
      if (room.mentioned) {
        const mark = document.createElement("span");
        mark.className = "mention";
        mark.textContent = "@";
        mark.setAttribute("aria-label", "mentions you");
        badges.append(mark);
      }
      button.append(badges);
      button.addEventListener("click", () => {
        state.select(room.name);
        renderAll();
        ui.input.focus();
      });
      li.append(button);
      return li;
    });
    ui.roomList.replaceChildren(...items);
  };

  const renderMembers = () => {
    const room = state.rooms.get(state.current);
    const names = [...(room?.members ?? [])].sort((a, b) => a.localeCompare(b));
    ui.members.replaceChildren(...names.map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      return li;
    }));
  };

  const renderAll = () => {
    ui.title.textContent = state.current === "" ? "Banter" : state.current;
    renderRooms();
    renderMessages();
    renderMembers();
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

  const addLines = (added: Line[]) => {
    for (const line of added) {
      const list = lines.get(line.room) ?? [];
      list.push(line);
      if (list.length > MAX_LINES) list.splice(0, list.length - MAX_LINES);
      lines.set(line.room, list);
      if (line.room === state.current) {
        const atBottom = ui.messagesPane.scrollHeight - ui.messagesPane.scrollTop -
            ui.messagesPane.clientHeight < 40;
        appendToView(line);
        if (atBottom) ui.messagesPane.scrollTop = ui.messagesPane.scrollHeight;
      }
      notify(line);
    }
  };

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
        if (frame.reason === "token_invalid") {
          sessionStorage.removeItem(STORE_TOKEN);
          showLogin(frame.message);
        } else showLogin(frame.message);
        break;
      case "welcome": {
        state.user = frame.user;
        sessionStorage.setItem(STORE_USER, frame.user);
        if (frame.token !== undefined) sessionStorage.setItem(STORE_TOKEN, frame.token);
        const first = !loggedIn;
        loggedIn = true;
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
        } else {
          addLines([{
            kind: "system",
            room: state.current,
            text: frame.message,
            ts: Date.now(),
            level: "warn",
          }]);
        }
        break;
      case "error":
        addLines([{
          kind: "system",
          room: state.current,
          text: frame.message,
          ts: Date.now(),
          level: "error",
        }]);
        break;
      case "message":
      case "dm":
      case "join":
      case "leave":
      case "notice":
      case "room": {
        const applied = state.apply(frame, document.visibilityState === "visible");
        addLines(applied.lines);
        if (frame.type === "room") renderAll();
        else {
          renderRooms();
          if (applied.membersChanged) renderMembers();
        }
      }
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

  const link = new Link(`wss://${location.host}/ws`, { frame: onFrame, status: showStatus });

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

  const sendText = (text: string) => {
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const dmPeer = state.current.startsWith("@") ? state.current.slice(1) : undefined;
      const out = dmPeer !== undefined && !line.startsWith("/") ? `/msg ${dmPeer} ${line}` : line;
      if (!link.send({ type: "say", text: out })) return false;
    }
    return true;
  };

  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sendText(ui.input.value)) ui.input.value = "";
  });

  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.sendForm.requestSubmit();
    } else if (event.key === "Tab" && !event.shiftKey && completeNick()) {
      event.preventDefault();
    }
  });

  /** Complete the word before the caret from the members seen; false when nothing matched. */
  const completeNick = (): boolean => {
    const { value, selectionStart } = ui.input;
    const before = value.slice(0, selectionStart);
    const word = /[^\s]*$/.exec(before)?.[0] ?? "";
    const prefix = word.replace(/^@/, "").toLowerCase();
    if (prefix === "") return false;
    const known = new Set<string>();
    for (const room of state.rooms.values()) for (const m of room.members) known.add(m);
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
    link.send({ type: "say", text: "get_joke" });
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
    lines.clear();
    state.rooms.clear();
    state.current = "";
    ui.username.value = "";
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
    if (document.visibilityState === "visible" && state.current !== "") {
      state.select(state.current);
      renderRooms();
    }
  });

  ui.loginView.hidden = sessionStorage.getItem(STORE_TOKEN) !== null;
  link.start();
}

main();
