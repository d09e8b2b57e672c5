import { deepEqual, equal, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { loginV2 } from "../e2e/_v2_client.ts";
import {
  launchBrowser,
  lineTexts,
  logIn,
  openPage,
  say,
  sendLines,
  setValue,
  SHARED_BROWSER,
  startWebServer,
  waitForLine,
  waitUntil,
  webUrl,
} from "../_browser.ts";

const browser = await launchBrowser();

/** The sidebar entry of `room` (a room name, or `@peer`). */
function entry(room: string): string {
  return `#room-list [data-room=${JSON.stringify(room)}]`;
}

/** The text of a sidebar entry, or null when it is not there. */
async function entryText(page: Page, room: string): Promise<string | null> {
  return await page.evaluate(
    `document.querySelector(${JSON.stringify(entry(room))})?.textContent ?? null`,
  ) as string | null;
}

/** The member panel's entry of `name`: its presence and text. */
async function member(page: Page, name: string): Promise<[string, string] | null> {
  return await page.evaluate(`(() => {
    const li = document.querySelector('#members [data-name=${JSON.stringify(name)}]');
    return li === null ? null : [li.dataset.presence, li.textContent];
  })()`) as [string, string] | null;
}

Deno.test({
  name:
    "web client v2: /join shows a room in the sidebar, say goes to the shown room, DMs go with dm, /part removes it",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using bob = (await loginV2(s.port, "bob")).client;
    await bob.send({ type: "join", room: "dev", id: 1 });
    await bob.until((f) => f.type === "ack" && f.id === 1);
    await using tab = await openPage(browser, webUrl(s));
    await logIn(tab.page, "alice");
    await waitUntil(tab.page, `!!document.querySelector(${JSON.stringify(entry("lobby"))})`);
    await say(tab.page, "/join dev");
    await waitUntil(tab.page, `document.getElementById("room-title").textContent === "#dev"`);
    equal(await entryText(tab.page, "dev"), "#dev");
    await say(tab.page, "only for dev");
    const inDev = await bob.until((f) => f.type === "message" && f.from === "alice");
    deepEqual(inDev.type === "message" && [inDev.room, inDev.text], ["dev", "only for dev"]);
    // A DM from bob opens a conversation in the sidebar; answering it sends a dm frame.
    await bob.send({ type: "dm", to: "alice", text: "psst, alice" });
    await waitUntil(tab.page, `!!document.querySelector(${JSON.stringify(entry("@bob"))})`);
    await tab.page.click(entry("@bob"));
    await waitForLine(tab.page, "psst, alice");
    await say(tab.page, "psst yourself");
    const dm = await bob.until((f) => f.type === "dm" && f.from === "alice");
    deepEqual(dm.type === "dm" && [dm.to, dm.text], ["bob", "psst yourself"]);
    await tab.page.click(entry("dev"));
    await waitUntil(tab.page, `document.getElementById("room-title").textContent === "#dev"`);
    await say(tab.page, "/part");
    const part = await bob.until((f) => f.type === "part");
    deepEqual(part.type === "part" && [part.room, part.user], ["dev", "alice"]);
    await waitUntil(tab.page, `!document.querySelector(${JSON.stringify(entry("dev"))})`);
    equal(await tab.page.$eval("#room-title", (e) => e.textContent), "#lobby");
  },
});

Deno.test({
  name:
    "web client v2: unread counts and mention marks come from the replay, stay live, and reading on another tab clears them",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using one = await openPage(browser, webUrl(s));
    await using two = await openPage(browser, webUrl(s));
    await logIn(one.page, "alice");
    await say(one.page, "/join dev");
    await waitUntil(one.page, `document.getElementById("room-title").textContent === "#dev"`);
    await one.page.click(entry("lobby"));
    await waitUntil(one.page, `document.getElementById("room-title").textContent === "#lobby"`);
    await logIn(two.page, "alice");
    await waitUntil(two.page, `!!document.querySelector(${JSON.stringify(entry("dev"))})`);
    equal(await two.page.$eval("#room-title", (e) => e.textContent), "#lobby");
    await using bob = (await loginV2(s.port, "bob")).client;
    await bob.send({ type: "join", room: "dev", id: 1 });
    await bob.until((f) => f.type === "ack" && f.id === 1);
    await bob.send({ type: "say", room: "dev", text: "plain news" });
    await bob.send({ type: "say", room: "dev", text: "alice: are you there?" });
    for (const tab of [one, two]) {
      await waitUntil(
        tab.page,
        `document.querySelector(${JSON.stringify(entry("dev"))}).textContent === "#dev2@"`,
      );
    }
    // A new login's replay has the server's count and mark.
    await using three = await openPage(browser, webUrl(s));
    await logIn(three.page, "alice");
    await waitUntil(
      three.page,
      `document.querySelector(${JSON.stringify(entry("dev"))})?.textContent === "#dev2@"`,
    );
    // Reading dev on tab two clears it on tabs one and three.
    await two.page.click(entry("dev"));
    await waitForLine(two.page, "are you there?");
    for (const tab of [one, two, three]) {
      await waitUntil(
        tab.page,
        `document.querySelector(${JSON.stringify(entry("dev"))}).textContent === "#dev"`,
      );
    }
    // The marker is on the server: a fresh login has nothing unread either.
    await using four = await openPage(browser, webUrl(s));
    await logIn(four.page, "alice");
    await waitUntil(four.page, `!!document.querySelector(${JSON.stringify(entry("dev"))})`);
    equal(await entryText(four.page, "dev"), "#dev");
  },
});

Deno.test({
  name:
    "web client v2: scrolling to the top pages back through 300 messages, keeping the view, without duplicates",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({
      users: ["alice", "bob"],
      config: { rateBurst: 1000, ratePerSecond: 1000 },
    });
    await using bob = (await loginV2(s.port, "bob")).client;
    const total = 300;
    for (let i = 1; i <= total; i++) {
      await bob.send({ type: "say", room: "lobby", text: `m${String(i).padStart(3, "0")}` });
    }
    await bob.until((f) => f.type === "message" && f.text === "m300", 15_000);
    await using tab = await openPage(browser, webUrl(s), { width: 900, height: 500 });
    await logIn(tab.page, "alice");
    await waitForLine(tab.page, "m300");
    const count = () => tab.page.$$eval("#messages .line.message", (items) => items.length);
    equal(await count(), 50, "the replay holds the newest 50");
    for (let pages = 0; pages < 10 && await count() < total; pages++) {
      const before = await count();
      // The line at the top before paging stays where it is on the screen.
      const top = await tab.page.evaluate(`(() => {
        const pane = document.getElementById("messages-pane");
        pane.scrollTop = 0;
        const first = document.querySelector("#messages .line.message");
        return { id: first.dataset.id, y: first.getBoundingClientRect().top };
      })()`) as { id: string; y: number };
      await tab.page.evaluate(
        `document.getElementById("messages-pane").dispatchEvent(new Event("scroll"))`,
      );
      await waitUntil(
        tab.page,
        `document.querySelectorAll("#messages .line.message").length > ${before}`,
      );
      const y = await tab.page.evaluate(
        `document.querySelector('#messages [data-id="${top.id}"]').getBoundingClientRect().top`,
      ) as number;
      ok(Math.abs(y - top.y) < 2, `line ${top.id} moved from ${top.y} to ${y}`);
    }
    const texts = (await lineTexts(tab.page)).map((l) => l.replace(/^\d\d:\d\d bob /, ""));
    const expected = Array.from({ length: total }, (_, i) => `m${String(i + 1).padStart(3, "0")}`);
    deepEqual(texts.filter((t) => /^m\d{3}$/.test(t)), expected);
    equal(await tab.page.$eval("#older", (e) => e.hasAttribute("hidden")), true);
  },
});

Deno.test({
  name: "web client v2: the members panel shows presence and away as they change",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using tab = await openPage(browser, webUrl(s));
    await logIn(tab.page, "alice");
    await waitUntil(tab.page, `!!document.querySelector('#members [data-name="alice"]')`);
    const bob = await loginV2(s.port, "bob");
    await waitUntil(
      tab.page,
      `document.querySelector('#members [data-name="bob"]')?.dataset.presence === "online"`,
    );
    await bob.client.send({ type: "away", text: "at lunch" });
    await waitUntil(
      tab.page,
      `document.querySelector('#members [data-name="bob"]')?.dataset.presence === "away"`,
    );
    deepEqual(await member(tab.page, "bob"), ["away", "bob away: at lunch"]);
    await waitForLine(tab.page, "bob is away: at lunch");
    await bob.client.send({ type: "away" });
    await waitUntil(
      tab.page,
      `document.querySelector('#members [data-name="bob"]')?.dataset.presence === "online"`,
    );
    await bob.client[Symbol.asyncDispose]();
    await waitUntil(
      tab.page,
      `document.querySelector('#members [data-name="bob"]')?.dataset.presence === "offline"`,
    );
    deepEqual(await member(tab.page, "bob"), ["offline", "bob offline"]);
    deepEqual(await member(tab.page, "alice"), ["online", "alice"]);
    await waitForLine(tab.page, "bob went offline");
  },
});

Deno.test({
  name:
    "web client v2: Shift+Enter makes a multi-line message; over-long input is refused with the count",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using bob = (await loginV2(s.port, "bob")).client;
    await using tab = await openPage(browser, webUrl(s));
    await logIn(tab.page, "alice");
    await setValue(tab.page, "#input", "x".repeat(4097));
    await tab.page.focus("#input");
    await tab.page.keyboard.press("Enter");
    await waitUntil(
      tab.page,
      `document.getElementById("input-hint").textContent === "Cannot send: 4097 characters, at most 4096"`,
    );
    equal(await tab.page.evaluate(`document.getElementById("input").value.length`), 4097);
    await setValue(tab.page, "#input", Array.from({ length: 51 }, (_, i) => `l${i}`).join("\n"));
    await tab.page.keyboard.press("Enter");
    await waitUntil(
      tab.page,
      `document.getElementById("input-hint").textContent === "Cannot send: 51 lines, at most 50"`,
    );
    await setValue(tab.page, "#input", "");
    await sendLines(tab.page, ["one", "two"]);
    const got = await bob.until((f) => f.type === "message" && f.from === "alice");
    equal(got.type === "message" && got.text, "one\ntwo");
    equal(await tab.page.$eval("#input-hint", (e) => e.textContent), "");
    const shown = await waitForLine(tab.page, "two");
    ok(shown.some((l) => l.endsWith("alice one\ntwo")), shown.join("|"));
  },
});

globalThis.addEventListener("unload", () => void browser.close());
