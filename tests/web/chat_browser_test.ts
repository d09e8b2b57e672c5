import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { startClient } from "../_client_process.ts";
import { passwordOf } from "../_server.ts";
import {
  launchBrowser,
  lineTexts,
  logIn,
  openPage,
  say,
  startWebServer,
  submitLogin,
  waitForLine,
  waitUntil,
  webUrl,
} from "../_browser.ts";

const browser = await launchBrowser();

Deno.test({
  name: "web client: two browsers and a terminal client chat with each other",
  sanitizeOps: false,
  sanitizeResources: false,
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
    await waitForLine(alice.page, "carol joined");
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
  sanitizeOps: false,
  sanitizeResources: false,
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
    const links = await bob.page.$$eval("#messages a", (as) =>
      as.map((a) => ({ href: a.getAttribute("href"), rel: a.getAttribute("rel") })));
    deepEqual(links, [{ href: "https://example.org/a?b=1", rel: "noopener noreferrer" }]);
    deepEqual([...alice.dialogs, ...bob.dialogs], []);
  },
});

Deno.test({
  name: "web client: three wrong passwords show the remaining count, then access denied",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using s = await startWebServer({ users: ["alice"] });
    await using tab = await openPage(browser, webUrl(s));
    const messages: string[] = [];
    for (let i = 0; i < 3; i++) {
      await submitLogin(tab.page, "alice", "wrong password");
      const expected = i < 2 ? `${2 - i} attempt` : "denied";
      await waitUntil(
        tab.page,
        `document.getElementById("login-message").textContent.includes(${JSON.stringify(expected)})`,
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
  sanitizeOps: false,
  sanitizeResources: false,
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
    await tab.page.waitForSelector("#login-view:not([hidden])", { timeout: 15_000 });
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

globalThis.addEventListener("unload", () => void browser.close());
