/**
 * DOM builders for the message list. User text only ever becomes text
 * nodes (`textContent`, never HTML); an http(s) URL in it becomes a link
 * with `rel="noopener noreferrer"`, anything else stays text.
 *
 * @module
 */
import type { Line } from "./state.ts";

/** How many nick colours the style sheet has (`.nick-0` ...). */
export const NICK_COLOURS = 8;

const URL_PATTERN = /https?:\/\/[^\s<>"']+/gi;

/** The colour class of a nick: the same name always gets the same one. */
export function nickClass(name: string): string {
  let hash = 0;
  for (const c of name.toLowerCase()) hash = (hash * 31 + c.codePointAt(0)!) >>> 0;
  return `nick-${hash % NICK_COLOURS}`;
}

/**
 * Append `text` to `parent` as text nodes, with http(s) URLs as links.
 *
 * @param parent Where the text goes.
 * @param text Untrusted text.
 */
export function appendLinkified(parent: HTMLElement, text: string): void {
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    // A trailing full stop or bracket is rarely part of the address.
    const raw = match[0].replace(/[.,;:!?)\]]+$/, "");
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined; // not a URL after all: it stays text
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    parent.append(document.createTextNode(text.slice(at, start)));
    const a = document.createElement("a");
    a.href = url.href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = raw;
    parent.append(a);
    at = start + raw.length;
  }
  parent.append(document.createTextNode(text.slice(at)));
}

/** `HH:MM` of a timestamp, local time. */
export function timeOf(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** The day of a timestamp, as the divider shows it. */
export function dayOf(ts: number): string {
  return new Date(ts).toLocaleDateString(undefined, {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}

/**
 * One list item for a line.
 *
 * @param line A message or system line.
 * @returns The `<li>`.
 */
export function renderLine(line: Line): HTMLLIElement {
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.dateTime = new Date(line.ts).toISOString();
  time.textContent = timeOf(line.ts);
  li.append(time, " ");
  if (line.kind === "system") {
    li.className = `line system ${line.level}`;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = line.text;
    li.append(text);
    return li;
  }
  li.className = `line message${line.action ? " action" : ""}${line.bot ? " bot" : ""}${
    line.dm ? " dm" : ""
  }`;
  li.dataset["id"] = String(line.id);
  const nick = document.createElement("span");
  nick.className = `nick ${line.bot ? "nick-bot" : nickClass(line.from)}`;
  nick.textContent = line.action ? `* ${line.from}` : line.from;
  const text = document.createElement("span");
  text.className = "text";
  appendLinkified(text, line.text);
  li.append(nick, " ", text);
  return li;
}

/**
 * A day divider.
 *
 * @param ts A time on that day.
 * @returns The `<li>`.
 */
export function renderDivider(ts: number): HTMLLIElement {
  const li = document.createElement("li");
  li.className = "divider";
  li.setAttribute("role", "separator");
  li.textContent = dayOf(ts);
  return li;
}
