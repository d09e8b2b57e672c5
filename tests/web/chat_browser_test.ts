import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { startClient } from "../_client_process.ts";
import { passwordOf } from "../_server.ts";
import { FAKE_JOKES, startFakeJokeApi } from "../_joke_api.ts";
import { loginV2 } from "../e2e/_v2_client.ts";
import {
  launchBrowser,
  lineTexts,
  logIn,
  openPage,
  say,
  sendLines,
  SHARED_BROWSER,
  startWebServer,
  submitLogin,
  waitForLine,
  waitUntil,
  webUrl,
} from "../_browser.ts";

const browser = await launchBrowser();

Deno.test({
  name: "web client: two browsers and a terminal client chat with each other",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob", "carol"] });
    await using alice = await openPage(browser, webUrl(s));
    await using bob = await openPage(browser, webUrl(s));
    await logIn(alice.page, "alice");
    await logIn(bob.page, "bob");
    await say(alice.page, "hello from alice's browser");
    await waitForLine(bob.page, "hello from alice's browser");
    await using carol = startClient(
      ["--port", String(s.port), "--ca", join(s.dir, "certs", "ca.crt"), "--user", "carol"],
      { env: { BANTER_PASSWORD: passwordOf("carol") } },
    );
    await carol.waitFor("Logged in as carol");
    await waitForLine(alice.page, "carol is here");
    await say(bob.page, "hi carol, bob here");
    await carol.waitFor("<bob> hi carol, bob here");
    await carol.write("hello browsers\n");
    await waitForLine(alice.page, "hello browsers");
    await waitForLine(bob.page, "hello browsers");
    await carol.write("end\n");
    equal(await carol.status(), 0);
    deepEqual(alice.dialogs, []);
  },
});

Deno.test({
  name: "web client: a message with HTML shows as text and runs nothing",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using alice = await openPage(browser, webUrl(s));
    await using bob = await openPage(browser, webUrl(s));
    await logIn(alice.page, "alice");
    await logIn(bob.page, "bob");
    const attack = "<img src=x onerror=alert(1)>";
    await say(alice.page, attack);
    const lines = await waitForLine(bob.page, attack);
    ok(lines.some((l) => l.includes(attack)));
    equal(await bob.page.$$eval("#messages img", (imgs) => imgs.length), 0);
    await say(alice.page, "see https://example.org/a?b=1 and javascript:alert(2)");
    await waitForLine(bob.page, "see https://example.org/a");
    const links = await bob.page.$$eval(
      "#messages a",
      (as) => as.map((a) => ({ href: a.getAttribute("href"), rel: a.getAttribute("rel") })),
    );
    deepEqual(links, [{ href: "https://example.org/a?b=1", rel: "noopener noreferrer" }]);
    deepEqual([...alice.dialogs, ...bob.dialogs], []);
  },
});

Deno.test({
  name: "web client: three wrong passwords show the remaining count, then access denied",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice"] });
    await using tab = await openPage(browser, webUrl(s));
    const messages: string[] = [];
    for (let i = 0; i < 3; i++) {
      await submitLogin(tab.page, "alice", "wrong password");
      const expected = i < 2 ? `${2 - i} attempt` : "denied";
      await waitUntil(
        tab.page,
        `document.getElementById("login-message").textContent.includes(${
          JSON.stringify(expected)
        })`,
      );
      messages.push(await tab.page.$eval("#login-message", (e) => e.textContent ?? ""));
    }
    deepEqual(messages.slice(0, 2), [
      "Wrong username or password, 2 attempts left",
      "Wrong username or password, 1 attempt left",
    ]);
    equal(messages[2], "Access denied: too many failed attempts");
  },
});

Deno.test({
  name: "web client: a reload keeps the session, logout ends it",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice"] });
    await using tab = await openPage(browser, webUrl(s));
    await logIn(tab.page, "alice");
    await say(tab.page, "before the reload");
    await waitForLine(tab.page, "before the reload");
    await tab.page.reload({ waitUntil: "load" });
    await tab.page.waitForSelector("#chat-view:not([hidden])", { timeout: 15_000 });
    await waitForLine(tab.page, "before the reload");
    const token = await tab.page.evaluate(() => sessionStorage.getItem("banter.token"));
    ok(token !== null && token.length === 43);
    await tab.page.click("#logout");
    // The server's goodbye, sent once it has revoked the token.
    await waitUntil(
      tab.page,
      `document.getElementById("login-message").textContent === "Logged out"`,
    );
    equal(await tab.page.$eval("#login-view", (e) => e.hasAttribute("hidden")), false);
    equal(await tab.page.evaluate(() => sessionStorage.getItem("banter.token")), null);
    // The token is revoked on the server: putting it back does not log in.
    await tab.page.evaluate((t) => {
      sessionStorage.setItem("banter.user", "alice");
      sessionStorage.setItem("banter.token", t);
    }, token);
    await tab.page.reload({ waitUntil: "load" });
    await waitUntil(
      tab.page,
      `document.getElementById("login-message").textContent === "Your session has ended, log in again"`,
    );
    equal(await tab.page.$eval("#chat-view", (e) => e.hasAttribute("hidden")), true);
    equal(await lineTexts(tab.page).then((l) => l.length), 0);
  },
});

Deno.test({
  name: "web client: after a server restart the page reconnects and shows only the missed messages",
  ...SHARED_BROWSER,
  async fn() {
    await using first = await startWebServer({ users: ["alice", "bob"] });
    const webPort = first.server.webAddr!.port;
    await using tab = await openPage(browser, webUrl(first));
    // What the page sends and receives on its WebSocket, as Chromium saw it.
    const sent: Array<Record<string, unknown>> = [];
    const received: Array<Record<string, unknown>> = [];
    const cdp = await tab.page.createCDPSession();
    await cdp.send("Network.enable");
    cdp.on("Network.webSocketFrameSent", (e) => sent.push(JSON.parse(e.response.payloadData)));
    cdp.on(
      "Network.webSocketFrameReceived",
      (e) => received.push(JSON.parse(e.response.payloadData)),
    );
    await logIn(tab.page, "alice");
    await say(tab.page, "said before the restart");
    await waitForLine(tab.page, "said before the restart");
    const lastId = Math.max(
      ...received.filter((f) => f["type"] === "message").map((f) => f["id"] as number),
    );
    await first.stop();
    received.length = 0;
    await waitUntil(
      tab.page,
      `document.getElementById("status").textContent.includes("reconnecting")`,
    );
    await using second = await startWebServer({
      dir: first.dir,
      users: ["alice", "bob"],
      deps: { webPort },
    });
    await using bob = await second.login("bob");
    await bob.send({ type: "say", text: "missed while alice was away" });
    await waitForLine(tab.page, "missed while alice was away");
    await waitUntil(tab.page, `document.getElementById("status").textContent === "Connected"`);
    const lines = await lineTexts(tab.page);
    equal(lines.filter((l) => l.includes("said before the restart")).length, 1, lines.join("\n"));
    equal(lines.filter((l) => l.includes("missed while alice was away")).length, 1);
    // The second hello resumed from the last message shown; the replay held only the missed one.
    const hellos = sent.filter((f) => f["type"] === "hello");
    deepEqual(hellos.at(-1), {
      type: "hello",
      version: 2,
      client: "banter-web",
      resume: { lobby: lastId },
    });
    const lobby = received.find((f) => f["type"] === "room" && f["room"] === "lobby");
    // Bob may speak before or after the page is back: in its replay or live, never twice.
    const replayed = (lobby?.["history"] as Array<{ text: string }>).map((m) => m.text);
    ok(
      replayed.length === 0 ||
        (replayed.length === 1 && replayed[0] === "missed while alice was away"),
      JSON.stringify(replayed),
    );
  },
});

Deno.test({
  name: "web client: unread counts and mention marks in the sidebar",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using tab = await openPage(browser, webUrl(s));
    await logIn(tab.page, "alice");
    await using bob = await s.login("bob");
    await bob.send({ type: "say", text: "/msg alice psst, a direct one" });
    await waitUntil(tab.page, `!!document.querySelector('#room-list [data-room="@bob"] .unread')`);
    const dm = await tab.page.$eval('#room-list [data-room="@bob"]', (e) => e.textContent);
    equal(dm, "@bob1@");
    await tab.page.click('#room-list [data-room="@bob"]');
    await waitForLine(tab.page, "psst, a direct one");
    await bob.send({ type: "say", text: "plain news for the room" });
    await bob.send({ type: "say", text: "alice: are you there?" });
    await waitUntil(
      tab.page,
      `document.querySelector('#room-list [aria-current="false"] .unread')?.textContent === "2"`,
    );
    const room = await tab.page.$eval('#room-list [aria-current="false"]', (e) => e.textContent);
    ok(room?.endsWith("2@"), room ?? "");
    equal(await tab.page.$('#room-list [data-room="@bob"] .unread'), null, "the DM was read");
  },
});

Deno.test({
  name:
    "web client: a WebSocket from a foreign origin is refused, a binary or multi-line message is a protocol error",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice"] });
    const wsUrl = `wss://127.0.0.1:${s.server.webAddr!.port}/ws`;
    // A page of another origin (plain HTTP on another port) tries to open it.
    await using foreign = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<!doctype html><title>elsewhere</title>", {
          headers: { "content-type": "text/html" },
        }),
    );
    await using other = await openPage(browser, `http://127.0.0.1:${foreign.addr.port}/`);
    const outcome = await other.page.evaluate(`new Promise((resolve) => {
      const ws = new WebSocket(${JSON.stringify(wsUrl)});
      ws.onopen = () => resolve("open");
      ws.onclose = (e) => resolve("closed " + e.code);
    })`);
    equal(outcome, "closed 1006");
    await using tab = await openPage(browser, webUrl(s));
    for (
      const [payload, code] of [["new Blob(['{}'])", "binary_message"], [
        `'{"type":"hello","version":1}\\n{"type":"hello","version":1}'`,
        "newline_in_message",
      ]] as const
    ) {
      const frames = await tab.page.evaluate(`new Promise((resolve) => {
        const seen = [];
        const ws = new WebSocket(${JSON.stringify(wsUrl)});
        ws.onmessage = (e) => {
          seen.push(JSON.parse(e.data));
          if (seen.length === 1) ws.send(${payload});
        };
        ws.onclose = () => resolve(seen);
      })`) as Array<{ type: string; code?: string }>;
      deepEqual(frames.map((f) => [f.type, f.code]), [
        ["hello", undefined],
        ["error", code],
        ["bye", "protocol_error"],
      ]);
    }
  },
});

Deno.test({
  name: "web client: WebSockets count against the same per-address connection cap as TLS",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice"], config: { maxConnectionsPerIp: 1 } });
    await using _held = await s.login("alice");
    await using tab = await openPage(browser, webUrl(s));
    const frames = await tab.page.evaluate(`new Promise((resolve) => {
      const seen = [];
      const ws = new WebSocket("wss://" + location.host + "/ws");
      ws.onmessage = (e) => seen.push(JSON.parse(e.data));
      ws.onclose = () => resolve(seen);
    })`) as Array<{ type: string; code?: string }>;
    deepEqual(frames.map((f) => [f.type, f.code]), [["bye", "busy"]]);
  },
});

Deno.test({
  name:
    "web client: the joke button posts a JokeBot joke; /me, join lines, times and a day divider show",
  ...SHARED_BROWSER,
  async fn() {
    await using api = startFakeJokeApi();
    await using s = await startWebServer({
      users: ["alice", "bob"],
      config: { jokeUrl: api.url("/official") },
    });
    await using tab = await openPage(browser, webUrl(s));
    await logIn(tab.page, "alice");
    await using bob = await s.login("bob");
    await waitForLine(tab.page, "bob is here");
    await bob.send({ type: "say", text: "/me waves" });
    await waitForLine(tab.page, "* bob waves");
    await tab.page.click("#joke");
    await waitForLine(tab.page, FAKE_JOKES.official[0]);
    const lines = await tab.page.$$eval(
      "#messages li",
      (items) => items.map((li) => ({ cls: li.className, text: li.textContent ?? "" })),
    );
    equal(lines[0]?.cls, "divider", "the day comes first");
    ok(lines.some((l) => l.cls.includes("action") && /^\d\d:\d\d \* bob waves$/.test(l.text)));
    const joke = lines.find((l) => l.text.includes(FAKE_JOKES.official[0]));
    ok(joke?.cls.includes("bot"), JSON.stringify(joke));
    ok(lines.some((l) => l.cls.includes("system") && l.text.endsWith("bob is here")));
  },
});

/** Where screenshots go when BANTER_SCREENSHOTS is set (deno task web:screenshots). */
const SCREENSHOTS = Deno.env.get("BANTER_SCREENSHOTS");

Deno.test({
  name: "web client: desktop and phone (360 px) layouts never scroll sideways",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob", "carol"] });
    await using bob = await s.login("bob");
    await using carol = await s.login("carol");
    await bob.send({ type: "say", text: "Morning all! Release notes: https://example.org/notes" });
    await carol.send({ type: "say", text: "/me waves" });
    await bob.send({ type: "say", text: "a-very-long-word-without-spaces-".repeat(6) });
    await bob.send({ type: "say", text: "/msg alice lunch at noon?" });
    for (
      const [name, viewport] of [["desktop", { width: 1100, height: 640 }], [
        "phone",
        { width: 360, height: 740 },
      ]] as const
    ) {
      await using tab = await openPage(browser, webUrl(s), viewport);
      await logIn(tab.page, "alice");
      await waitForLine(tab.page, "a-very-long-word");
      if (name === "desktop") {
        await say(tab.page, "/join dev");
        await waitUntil(tab.page, `document.getElementById("room-title").textContent === "#dev"`);
        await tab.page.evaluate(`document.querySelector('#room-list [data-room="lobby"]').click()`);
        await waitForLine(tab.page, "a-very-long-word");
      }
      // The sidebar: both rooms and the DM conversation with its unread mark.
      await waitUntil(
        tab.page,
        `!!document.querySelector('#room-list [data-room="@bob"] .unread')`,
      );
      await waitUntil(tab.page, `!!document.querySelector('#room-list [data-room="dev"]')`);
      await say(tab.page, `hi bob, carol: the ${name} view`);
      await waitForLine(tab.page, `the ${name} view`);
      equal(await tab.page.evaluate("document.documentElement.scrollWidth"), viewport.width, name);
      const right = await tab.page.$eval("#send", (e) => e.getBoundingClientRect().right);
      ok(right <= viewport.width, `${name}: the send button ends at ${right}`);
      if (SCREENSHOTS) {
        await tab.page.screenshot({ path: join(SCREENSHOTS, `web-${name}.png`) });
      }
    }
  },
});

Deno.test({
  name:
    "web client: keyboard only: log in, Tab completes a nick, Shift+Enter adds a line, Enter sends",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using bob = (await loginV2(s.port, "bob")).client;
    await using tab = await openPage(browser, webUrl(s));
    await waitUntil(tab.page, `!document.getElementById("login-button").disabled`);
    equal(await tab.page.evaluate("document.activeElement.id"), "username");
    await tab.page.keyboard.type("alice");
    await tab.page.keyboard.press("Tab");
    await tab.page.keyboard.type(passwordOf("alice"));
    await tab.page.keyboard.press("Enter");
    await tab.page.waitForSelector("#chat-view:not([hidden])", { timeout: 15_000 });
    equal(await tab.page.evaluate("document.activeElement.id"), "input");
    equal(await tab.page.$eval("#messages", (e) => e.getAttribute("aria-live")), "polite");
    await tab.page.keyboard.type("bo");
    await tab.page.keyboard.press("Tab");
    equal(await tab.page.evaluate("document.activeElement.value"), "bob: ");
    await sendLines(tab.page, ["first line", "second line"]);
    // Version 2: one message of two lines.
    const message = await bob.until((f) => f.type === "message" && f.from === "alice");
    equal(message.type === "message" && message.text, "bob: first line\nsecond line");
    equal(await tab.page.evaluate("document.activeElement.value"), "");
  },
});

Deno.test({
  name: "web client: a mention or a DM raises a desktop notification once allowed",
  ...SHARED_BROWSER,
  async fn() {
    await using s = await startWebServer({ users: ["alice", "bob"] });
    await using tab = await openPage(browser, "about:blank");
    // Record notifications instead of showing them; the page is not focused in headless runs.
    await tab.page.evaluateOnNewDocument(`
      window.shown = [];
      window.Notification = class { constructor(title, o) { window.shown.push(title + ": " + o.body); } };
      window.Notification.permission = "granted";
      document.hasFocus = () => false;
    `);
    await tab.page.goto(webUrl(s), { waitUntil: "load" });
    await logIn(tab.page, "alice");
    await using bob = await s.login("bob");
    await bob.send({ type: "say", text: "nothing for you here" });
    await bob.send({ type: "say", text: "@alice lunch?" });
    await bob.send({ type: "say", text: "/msg alice just between us" });
    await waitForLine(tab.page, "lunch?");
    await waitUntil(tab.page, "window.shown.length === 2");
    deepEqual(await tab.page.evaluate("window.shown"), [
      "bob in lobby: @alice lunch?",
      "bob (direct): just between us",
    ]);
  },
});

globalThis.addEventListener("unload", () => void browser.close());
