/**
 * Driving /oauth/authorize the way a browser does: a cookie jar, a small HTML form reader, and the clicks
 * through the login and consent pages. Shared by the OAuth tests and the tests that log real client libraries
 * (masto, megalodon) in with the authorization-code flow and PKCE.
 */
import { createHash, randomBytes } from "node:crypto";
import { expect } from "vitest";
import { TEST_PASSWORD } from "./server.js";

export interface HtmlForm {
  action: string;
  method: string;
  fields: [string, string][];
  buttons: [string, string][];
}

export interface PageResponse {
  status: number;
  headers: Headers;
  html: string;
}

/** A browser for one server: keeps its cookies, sends every request from the same client address. */
export class Browser {
  cookies = new Map<string, string>();
  constructor(
    readonly origin: string,
    readonly address = "198.51.100.1",
  ) {}

  private store(headers: Headers) {
    for (const line of headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method: string, url: string, form?: [string, string][]): Promise<PageResponse> {
    const headers: Record<string, string> = { "X-Forwarded-For": this.address };
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (form) headers["Content-Type"] = "application/x-www-form-urlencoded";
    const response = await fetch(url.startsWith("http") ? url : `${this.origin}${url}`, {
      method,
      headers,
      body: form ? new URLSearchParams(form).toString() : undefined,
      redirect: "manual",
    });
    this.store(response.headers);
    return { status: response.status, headers: response.headers, html: await response.text() };
  }

  get(url: string): Promise<PageResponse> {
    return this.request("GET", url);
  }

  /** Submits a form of the page as a browser would: its fields, edited, plus the clicked button. */
  submit(form: HtmlForm, values: Record<string, string> = {}, button?: string): Promise<PageResponse> {
    const fields: [string, string][] = form.fields
      .filter(([name]) => !(name in values))
      .concat(Object.entries(values));
    if (button !== undefined) {
      const clicked = form.buttons.find(([, value]) => value === button);
      if (!clicked) throw new Error(`no button ${button}`);
      fields.push(clicked);
    }
    return this.request(form.method, form.action, fields);
  }
}

const decode = (s: string) =>
  s
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:="([^"]*)")?/g)) if (m[1]) out[m[1]] = decode(m[2] ?? "");
  return out;
}

/** The form with this id in the page: its action, method, input fields and named buttons. */
export function findForm(page: string, id: string): HtmlForm | null {
  const match = page.match(new RegExp(`<form([^>]*id="${id}"[^>]*)>([\\s\\S]*?)</form>`));
  if (!match) return null;
  const form = attributes(match[1] ?? "");
  const inner = match[2] ?? "";
  const fields: [string, string][] = [];
  for (const m of inner.matchAll(/<input\s([^>]*)>/g)) {
    const a = attributes(m[1] ?? "");
    if (a.name) fields.push([a.name, a.value ?? ""]);
  }
  const buttons: [string, string][] = [];
  for (const m of inner.matchAll(/<button\s([^>]*)>/g)) {
    const a = attributes(m[1] ?? "");
    if (a.name) buttons.push([a.name, a.value ?? ""]);
  }
  return { action: decode(form.action ?? ""), method: (form.method ?? "get").toUpperCase(), fields, buttons };
}

export function mustForm(page: string, id: string): HtmlForm {
  const form = findForm(page, id);
  if (!form) throw new Error(`no form #${id} in:\n${page}`);
  return form;
}

/** A PKCE verifier and its S256 challenge (RFC 7636). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/**
 * Opens the authorize URL, logs in when the page asks (as alice with the test password unless told otherwise)
 * and answers the consent form; returns the final response (a 302 to the app, or a page).
 */
export async function clickThrough(
  browser: Browser,
  url: string,
  decision: "authorize" | "deny" = "authorize",
  credentials: { username: string; password: string } = { username: "alice", password: TEST_PASSWORD },
): Promise<PageResponse> {
  let page = await browser.get(url);
  expect(page.status).toBe(200);
  const login = findForm(page.html, "login");
  if (login) {
    page = await browser.submit(login, credentials);
    expect(page.status).toBe(200);
  }
  return browser.submit(mustForm(page.html, "consent"), {}, decision);
}

/** The code, state and all parameters of the redirect that ends the flow. */
export function codeFrom(location: string | null): {
  code: string;
  state: string | null;
  params: URLSearchParams;
} {
  expect(location).toBeTruthy();
  const query = (location ?? "").split("?")[1] ?? "";
  const params = new URLSearchParams(query);
  return { code: params.get("code") ?? "", state: params.get("state"), params };
}

/**
 * The whole browser part of the authorization-code flow with PKCE S256, for an app that registered
 * `redirectUri`: opens /oauth/authorize with a challenge and a state, logs in, authorizes, and returns the code
 * from the redirect with the verifier to exchange it with. Checks the redirect goes to the app with the state.
 */
export async function authorizeWithPkce(
  origin: string,
  app: { clientId: string; redirectUri: string; scope: string },
  browser = new Browser(origin),
): Promise<{ code: string; verifier: string; challenge: string; location: string }> {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString("hex");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    scope: app.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const done = await clickThrough(browser, `/oauth/authorize?${query}`);
  expect(done.status).toBe(302);
  const location = done.headers.get("location") ?? "";
  expect(location.startsWith(`${app.redirectUri}?`)).toBe(true);
  const { code, state: returned } = codeFrom(location);
  expect(returned).toBe(state);
  expect(code).not.toBe("");
  return { code, verifier, challenge, location };
}
