/**
 * Headless Chromium for the web client's tests, driven by puppeteer-core:
 * one browser per test file, one incognito context per user (its own
 * sessionStorage), a test server with the web port on, and helpers that
 * wait on the page's DOM (never on time).
 *
 * @module
 */
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";
import { passwordOf, startTestServer, type TestServer, type TestServerOptions } from "./_server.ts";

/** Where Debian's `chromium` package puts the browser (`.ci/run` installs it). */
export const CHROMIUM = Deno.env.get("BANTER_CHROMIUM") ?? "/usr/bin/chromium";

/** How long a page wait may take before the test fails. */
export const PAGE_WAIT_MS = 15_000;

/**
 * `Deno.test` options for a test that uses its file's browser: the browser
 * is launched once per file and outlives each test, so its pipes and timers
 * are not the test's leaks and the op and resource sanitizers are off.
 */
export const SHARED_BROWSER = { sanitizeOps: false, sanitizeResources: false } as const;

/**
 * Launch headless Chromium.
 *
 * @returns The browser; close it with `browser.close()`.
 * @throws {Error} "Cannot launch Chromium: ..." naming the package when it is missing.
 */
export async function launchBrowser(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Cannot launch Chromium: ${CHROMIUM} is missing (install the Debian package chromium: sh scripts/need_packages.sh chromium)`,
    );
  }
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    acceptInsecureCerts: true, // the test CA is not in the browser's store
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
}

/** A test server with its web client on a free port. */
export async function startWebServer(options: TestServerOptions = {}): Promise<TestServer> {
  return await startTestServer({
    ...options,
    config: { webPort: 9443, ...options.config },
    deps: { webPort: 0, ...options.deps },
  });
}

/** The page's address on `server`. */
export function webUrl(server: TestServer): string {
  const addr = server.server.webAddr;
  if (addr === undefined) throw new Error("Cannot open the page: the web port is off");
  return `https://127.0.0.1:${addr.port}/`;
}

/** One user's browser tab. */
export interface UserPage extends AsyncDisposable {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Dialogs (alert, confirm) the page opened: none should ever. */
  readonly dialogs: string[];
}

/**
 * Open the page in a fresh context.
 *
 * @param browser The file's browser.
 * @param url The page.
 * @param viewport Its size. @default 1200 x 800
 */
export async function openPage(
  browser: Browser,
  url: string,
  viewport: { width: number; height: number } = { width: 1200, height: 800 },
): Promise<UserPage> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.setViewport(viewport);
  await page.goto(url, { waitUntil: "load" });
  return {
    page,
    context,
    dialogs,
    async [Symbol.asyncDispose]() {
      await context.close();
    },
  };
}

/**
 * Fill the login form and submit it.
 *
 * @param page The tab.
 * @param user Who.
 * @param password @default {passwordOf(user)}
 */
export async function submitLogin(page: Page, user: string, password = passwordOf(user)) {
  await page.waitForSelector("#login-form", { visible: true, timeout: PAGE_WAIT_MS });
  await waitForLoginReady(page);
  await setValue(page, "#username", user);
  await setValue(page, "#password", password);
  await page.click("#login-button");
}

/** Wait until the form's button is enabled (the page has its `auth` frame). */
async function waitForLoginReady(page: Page): Promise<void> {
  await page.waitForFunction('!document.getElementById("login-button").disabled', {
    timeout: PAGE_WAIT_MS,
  });
}

/**
 * Set a form field's value (tests type no DOM: scripts go to the page as text).
 *
 * @param page The tab.
 * @param selector The field.
 * @param value Its new value.
 */
export async function setValue(page: Page, selector: string, value: string): Promise<void> {
  await page.evaluate(
    `document.querySelector(${JSON.stringify(selector)}).value = ${JSON.stringify(value)}`,
  );
}

/**
 * Wait until a script (page-side, as text) is true.
 *
 * @param page The tab.
 * @param expression JavaScript run in the page.
 */
export async function waitUntil(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression, { timeout: PAGE_WAIT_MS });
}

/**
 * Log in and wait for the chat view.
 *
 * @param page The tab.
 * @param user Who.
 */
export async function logIn(page: Page, user: string): Promise<void> {
  await submitLogin(page, user);
  await page.waitForSelector("#chat-view:not([hidden])", { timeout: PAGE_WAIT_MS });
}

/**
 * Wait until a message line's text in the shown room contains `text`.
 *
 * @param page The tab.
 * @param text Part of the line.
 * @returns The texts of all message lines then.
 */
export async function waitForLine(page: Page, text: string): Promise<string[]> {
  await waitUntil(
    page,
    `[...document.querySelectorAll("#messages .line")].some((li) => li.textContent.includes(${
      JSON.stringify(text)
    }))`,
  );
  return await lineTexts(page);
}

/** The texts of the lines shown. */
export async function lineTexts(page: Page): Promise<string[]> {
  return await page.$$eval("#messages .line", (items) => items.map((li) => li.textContent ?? ""));
}

/**
 * Type `text` in the input and press Enter.
 *
 * @param page The tab.
 * @param text What to send.
 */
export async function say(page: Page, text: string): Promise<void> {
  await page.focus("#input");
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/**
 * Type `lines` in the focused input with Shift+Enter between them, then
 * press Enter: one message of several lines.
 *
 * @param page The tab.
 * @param lines The message's lines.
 */
export async function sendLines(page: Page, lines: string[]): Promise<void> {
  for (const [i, line] of lines.entries()) {
    if (i > 0) {
      await page.keyboard.down("Shift");
      await page.keyboard.press("Enter");
      await page.keyboard.up("Shift");
    }
    await page.keyboard.type(line);
  }
  await page.keyboard.press("Enter");
}
