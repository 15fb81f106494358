// The owner's browser session on the web pages: logging in through /login and sending the settings forms.
import { expect } from "vitest";
import { type Browser, findForm, mustForm, type PageResponse } from "./oauth-flow.js";
import { TEST_PASSWORD } from "./server.js";

/** Logs a browser in through /login (password, and the code when asked); returns the last response. */
export async function login(
  browser: Browser,
  password = TEST_PASSWORD,
  code?: string,
  username = "alice",
): Promise<PageResponse> {
  const page = await browser.get("/login");
  expect(page.status).toBe(200);
  const done = await browser.submit(mustForm(page.html, "login"), { username, password });
  const second = findForm(done.html, "second_factor");
  if (second && code !== undefined) return browser.submit(second, { code });
  return done;
}

export async function settingsPage(browser: Browser): Promise<string> {
  const page = await browser.get("/settings");
  expect(page.status).toBe(200);
  return page.html;
}

/** Submits a form of the settings page (the CSRF token included, as the page gave it). */
export async function submitSettings(browser: Browser, formId: string, values: Record<string, string> = {}) {
  return browser.submit(mustForm(await settingsPage(browser), formId), values);
}
