/** What a section of the settings page is, and what it gets to render itself and answer its forms. */
import type { Context as HonoContext } from "hono";
import { html } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Context } from "../../../context.js";
import { UserError } from "../../../core/account.js";
import type { Params } from "../../mastodon/params.js";
import type { Html } from "../layout.js";

/** A message for the section that just handled a form. */
export interface Message {
  kind: "notice" | "error";
  text: string;
}

export interface SectionView {
  ctx: Context;
  userId: string;
  /** The token every form of the page carries as csrf_token. */
  csrf: string;
  /** Set only for the section whose form was just sent. */
  message?: Message;
  /** What that section's handler passed on to its own rendering (recovery codes, a QR code...). */
  data?: unknown;
}

/** A form post to a section, already checked: logged-in owner, valid CSRF token. */
export interface SectionRequest {
  ctx: Context;
  c: HonoContext;
  userId: string;
  params: Params;
  /** Renders the whole page with this section's message (and data) at it. */
  show(result: {
    message?: Message;
    data?: unknown;
    status?: ContentfulStatusCode;
  }): Response | Promise<Response>;
}

export interface SettingsSection {
  /** The anchor of the section and the path of its forms: POST /settings/<id>/<action>. */
  id: string;
  title: string;
  render(view: SectionView): Html;
  /** The form actions of the section, by name. A handler may answer anything (a download, a redirect). */
  actions: Record<string, (request: SectionRequest) => Response | Promise<Response>>;
}

/** The CSRF field every form of the page carries. */
export const csrfField = (view: SectionView) =>
  html`<input type="hidden" name="csrf_token" value="${view.csrf}">`;

export function messageOf(view: SectionView): Html | string {
  if (!view.message) return "";
  return view.message.kind === "error"
    ? html`<p class="error" role="alert">${view.message.text}</p>`
    : html`<p class="notice" role="status">${view.message.text}</p>`;
}

export const formatTime = (ms: number | null) =>
  ms === null ? "never" : `${new Date(ms).toISOString().replace("T", " ").slice(0, 16)} UTC`;

export const text = (params: Params, key: string): string => {
  const value = params[key];
  return typeof value === "string" ? value : "";
};

/** Runs one action of a section: its message on success, a refusal of the core (UserError) shown as an error. */
export async function attempt(
  request: SectionRequest,
  work: () => Promise<string> | string,
): Promise<Response> {
  try {
    return await request.show({ message: { kind: "notice", text: await work() } });
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return request.show({ status: error.status, message: { kind: "error", text: error.message } });
  }
}
